import { Component, onWillUpdateProps, useRef, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";

const REMOTE_IMAGE = /<img\b[^>]*\bsrc\s*=\s*["']?\s*(https?:)?\/\//i;
const INLINE_IMAGE = /^\/web\/content\/\d+$/; // the stored inline images' URLs (engine/bodies.py)

/**
 * The body, already sanitized and confined server-side (engine/bodies.py: no URL of Odoo's origin but
 * the message's inline images), in a sandboxed iframe: `sandbox="allow-same-origin"` (no scripts,
 * forms, popups or top navigation) and a CSP under which the frame fetches nothing but the exact URLs
 * of the message's inline images (`images`) until the user asks for images; then remote http(s)
 * images too. `data:` images are allowed: they are no request. Same origin only lets us size the
 * frame and open links in a new tab.
 */
export class BodyFrame extends Component {
    static template = "maildesk.BodyFrame";
    static props = { html: String, messageId: Number, images: { type: Array, optional: true } };

    setup() {
        this.iframe = useRef("iframe");
        this.state = useState({ showImages: false, height: 200 });
        onWillUpdateProps((next) => {
            if (next.messageId !== this.props.messageId) {
                Object.assign(this.state, { showImages: false, height: 200 });
            }
        });
    }

    get hasRemoteImages() {
        return REMOTE_IMAGE.test(this.props.html);
    }

    /** CSP source expressions: the full URL of each inline image (not 'self', which is all of Odoo). */
    get inlineImageSources() {
        const origin = browser.location.origin;
        return (this.props.images || []).filter((path) => INLINE_IMAGE.test(path)).map((path) => origin + path);
    }

    get csp() {
        const images = [...this.inlineImageSources, "data:"];
        if (this.state.showImages) {
            images.push("https:", "http:");
        }
        return `default-src 'none'; img-src ${images.join(" ")}; style-src 'unsafe-inline'; font-src data:; form-action 'none'; base-uri 'none'`;
    }

    get srcdoc() {
        return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${this.csp}">
<meta http-equiv="x-dns-prefetch-control" content="off">
<style>
body { margin: 0; padding: 1rem; font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       font-size: 14px; line-height: 1.5; color: #212529; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; }
table { max-width: 100%; }
blockquote { margin: 0 0 0 .5rem; padding-left: .75rem; border-left: 3px solid #dee2e6; color: #555; }
</style></head><body>${this.props.html}</body></html>`;
    }

    onLoad() {
        const doc = this.iframe.el?.contentDocument;
        if (!doc?.body) {
            return;
        }
        this.state.height = Math.max(doc.documentElement.scrollHeight, doc.body.scrollHeight, 60) + 4;
        doc.addEventListener("click", (ev) => this.onClick(ev));
    }

    /** Links open in a new tab, without access to MailDesk (the sandbox forbids popups itself). */
    onClick(ev) {
        const link = ev.target.closest?.("a[href]");
        if (!link) {
            return;
        }
        ev.preventDefault();
        if (/^(https?:|mailto:)/i.test(link.href)) {
            browser.open(link.href, "_blank", "noopener,noreferrer");
        }
    }
}
