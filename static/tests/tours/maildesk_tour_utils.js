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
