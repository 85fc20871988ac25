import { stepUtils } from "@web_tour/tour_service/tour_utils";

/**
 * Ask the test (tests/test_inbox_tour.py: MaildeskChromeBrowser) for a screenshot of the page as it is,
 * then wait until it is taken: the browser harness marks <body data-maildesk-shot="name">.
 */
export function screenshotSteps(name) {
    return [
        {
            content: `screenshot ${name}`,
            trigger: "body",
            run() {
                // let fonts, images and the message frame settle before the picture
                return new Promise((resolve) =>
                    setTimeout(() => {
                        console.log(`maildesk-screenshot:${name}`);
                        resolve();
                    }, 400)
                );
            },
        },
        {
            content: `screenshot ${name} taken`,
            trigger: `body[data-maildesk-shot='${name}']`,
            timeout: 20000,
        },
    ];
}

/** Row of the message list whose subject is `subject`. */
export function row(subject) {
    return `.o-maildesk-MessageList-row:has(.o-maildesk-MessageList-subject:contains("${subject}"))`;
}

/** Open an app from the home menu. */
export function openApp(xmlid) {
    return [stepUtils.showAppsMenuItem(), { trigger: `.o_app[data-menu-xmlid="${xmlid}"]`, run: "click" }];
}

/** Settings > Technical > `item` (debug mode), then New. */
export function technicalMenu(item) {
    return [
        ...openApp("base.menu_administration"),
        { trigger: ".o_main_navbar button:contains(Technical)", run: "click" },
        { trigger: `.dropdown-menu .dropdown-item:contains(${item})`, run: "click" },
        { trigger: ".o_list_view .o_list_button_add", run: "click" },
    ];
}

/** Pick the mailbox account named `name` in the many2one `fieldName`. */
export function chooseAccount(fieldName, name) {
    return [
        { trigger: `.o_field_widget[name=${fieldName}] input`, run: `edit ${name}` },
        { trigger: `.o-autocomplete--dropdown-item:contains(${name})`, run: "click" },
    ];
}

/** The folder `name` of the account `account` in the inbox's folder pane. */
export function folderRow(account, name) {
    return `.o-maildesk-FolderPane-account:contains(${account}) .o-maildesk-FolderNode-row:has(.o-maildesk-FolderNode-name:contains("${name}"))`;
}
