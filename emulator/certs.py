"""A private CA + a 127.0.0.1/localhost server certificate (cryptography 3.4.8 API: explicit default_backend())."""
import datetime
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'MailDesk emulator'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def system_ca_pem():
    """The system CA list (so the bundle also works as a global REQUESTS_CA_BUNDLE)."""
    candidates = [os.environ.get('REQUESTS_CA_BUNDLE'), os.environ.get('SSL_CERT_FILE'),
                  ssl.get_default_verify_paths().cafile, '/etc/ssl/certs/ca-certificates.crt']
    try:
        import certifi  # optional
        candidates.append(certifi.where())
    except ImportError:
        pass
    for path in candidates:
        if path and os.path.isfile(path):
            with open(path, 'rb') as fh:
                data = fh.read()
            if b'BEGIN CERTIFICATE' in data and b'MailDesk emulator' not in data:
                return data
    return b''


def ensure_certs(state_dir):
    """Create (or reuse) the CA and server certificate in state_dir; return (cert_path, key_path, bundle_path)."""
    os.makedirs(state_dir, exist_ok=True)
    ca_cert_path = os.path.join(state_dir, 'ca.pem')
    ca_key_path = os.path.join(state_dir, 'ca-key.pem')
    cert_path = os.path.join(state_dir, 'server.pem')
    key_path = os.path.join(state_dir, 'server-key.pem')
    bundle_path = os.path.join(state_dir, 'ca-bundle.pem')
    backend = default_backend()
    now = datetime.datetime.utcnow()
    if not (os.path.exists(ca_cert_path) and os.path.exists(ca_key_path)):
        ca_key = ec.generate_private_key(ec.SECP256R1(), backend)
        ca_cert = (x509.CertificateBuilder()
                   .subject_name(_name('MailDesk emulator CA')).issuer_name(_name('MailDesk emulator CA'))
                   .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256(), backend))
        with open(ca_key_path, 'wb') as fh:
            fh.write(_pem_key(ca_key))
        with open(ca_cert_path, 'wb') as fh:
            fh.write(ca_cert.public_bytes(serialization.Encoding.PEM))
        for stale in (cert_path, key_path):
            if os.path.exists(stale):
                os.unlink(stale)
    with open(ca_key_path, 'rb') as fh:
        ca_key = serialization.load_pem_private_key(fh.read(), None, backend)
    with open(ca_cert_path, 'rb') as fh:
        ca_pem = fh.read()
    ca_cert = x509.load_pem_x509_certificate(ca_pem, backend)
    if not (os.path.exists(cert_path) and os.path.exists(key_path)):
        key = ec.generate_private_key(ec.SECP256R1(), backend)
        cert = (x509.CertificateBuilder()
                .subject_name(_name('127.0.0.1')).issuer_name(ca_cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256(), backend))
        with open(key_path, 'wb') as fh:
            fh.write(_pem_key(key))
        with open(cert_path, 'wb') as fh:
            fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(bundle_path, 'wb') as fh:
        system = system_ca_pem()
        fh.write(system + (b'' if system.endswith(b'\n') or not system else b'\n') + ca_pem)
    return cert_path, key_path, bundle_path


def server_context(cert_path, key_path):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx
