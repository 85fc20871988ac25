import { defineMailModels, start } from "@mail/../tests/mail_test_helpers";
import { animationFrame } from "@odoo/hoot-mock";
import { defineModels, getService, makeMockServer, MockServer } from "@web/../tests/web_test_helpers";
import { MaildeskAccount } from "./mock_server/mock_models/maildesk_account";
import { MaildeskFolder } from "./mock_server/mock_models/maildesk_folder";
import { MaildeskInbox } from "./mock_server/mock_models/maildesk_inbox";
import { MaildeskMessage } from "./mock_server/mock_models/maildesk_message";
import { MaildeskTag } from "./mock_server/mock_models/maildesk_tag";

export const maildeskModels = { MaildeskAccount, MaildeskFolder, MaildeskInbox, MaildeskMessage, MaildeskTag };

export function defineMaildeskModels() {
    defineMailModels();
    defineModels(maildeskModels);
}

const FOLDERS = [
    ["Inbox", "inbox"],
    ["Sent Items", "sentitems"],
    ["Deleted Items", "deleteditems"],
];

/**
 * One mailbox "Sales" (Inbox, Sent Items, Deleted Items, Inbox/Projects) with `count` Inbox messages,
 * newest first: "Message 0" is the newest; every third is unread, every fifth flagged.
 * @returns {{accountId: number, folders: Record<string, number>, messageIds: number[]}}
 */
export async function seedMailbox({ count = 5, name = "Sales", state = "connected" } = {}) {
    const env = MockServer.current?.started ? MockServer.env : (await makeMockServer()).env;
    const accountId = env["maildesk.account"].create({ name, email: `${name.toLowerCase()}@contoso.com`, state });
    const folders = {};
    FOLDERS.forEach(([folderName, role], sequence) => {
        folders[role] = env["maildesk.folder"].create({ account_id: accountId, name: folderName, role, sequence });
    });
    folders.projects = env["maildesk.folder"].create({ account_id: accountId, name: "Projects", parent_id: folders.inbox });
    const messageIds = [];
    for (let i = 0; i < count; i++) {
        const minute = String(59 - (i % 60)).padStart(2, "0");
        const hour = String(23 - Math.floor(i / 60) % 24).padStart(2, "0");
        const day = String(28 - Math.floor(i / 1440)).padStart(2, "0");
        messageIds.push(
            env["maildesk.message"].create({
                account_id: accountId,
                folder_id: folders.inbox,
                subject: `Message ${i}`,
                from_name: i % 2 ? "Grace Hopper" : "Ada Lovelace",
                from_address: i % 2 ? "grace@fabrikam.com" : "ada@contoso.com",
                to_recipients: `${name} <${name.toLowerCase()}@contoso.com>`,
                received_at: `2024-01-${day} ${hour}:${minute}:00`,
                body_preview: `Preview ${i}`,
                body_html: `<p>Body of message ${i}</p>`,
                is_read: i % 3 !== 0,
                flag_status: i % 5 === 0 ? "flagged" : "notFlagged",
                has_attachments: i % 4 === 0,
                thread_key: `thread-${i % 3}`,
            })
        );
    }
    return { accountId, folders, messageIds };
}

/** Mount the web client as an authenticated user (bus included) and open the MailDesk inbox. */
export async function openInbox(params = {}) {
    await start();
    await getService("action").doAction({ type: "ir.actions.client", tag: "maildesk.inbox", params });
    await animationFrame();
}
