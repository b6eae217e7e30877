// The portal in a real browser; see portal_browser_test.sh for what it checks.
const { chromium } = require("playwright-core");

const base = process.env.PORTAL_BASE;
const out = process.env.PORTAL_OUT;
let passed = 0;
const failures = [];

function check(ok, what) {
  if (ok) {
    passed += 1;
    console.log(`portal browser: ok: ${what}`);
  } else {
    failures.push(what);
    console.log(`portal browser: FAILED: ${what}`);
  }
}

async function signIn(browser, link) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.dialogs = [];
  page.on("dialog", (dialog) => {
    page.dialogs.push(dialog.message());
    dialog.dismiss();
  });
  await page.goto(link);
  // The login page moves on by itself (a meta refresh) to a URL without the token.
  await page.waitForURL(`${base}/webhooks/portal`);
  return page;
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
  });
  try {
    const acme = await signIn(browser, process.env.PORTAL_LINK_A);
    check(!acme.url().includes("token"), "the link's token is gone from the address bar");
    await acme.screenshot({ path: `${out}/endpoints.png`, fullPage: true });

    // Add an endpoint whose description is a script.
    const xss = "<script>alert(1)</script>";
    await acme.click("text=Add endpoint");
    await acme.fill("#url", `${base}/receiver/acme-shop`);
    await acme.fill("#description", xss);
    await acme.check('input[name=events][value="order.placed"]');
    await acme.click("form.endpoint button[type=submit]");
    const secret = (await acme.textContent("#secret")).trim();
    check(secret.startsWith("whsec_"), "the secret is shown once after adding");
    await acme.screenshot({ path: `${out}/secret.png`, fullPage: true });
    await acme.click("text=Continue to the endpoint");
    const endpointUrl = acme.url();
    check((await acme.textContent("#endpoint-description")) === xss, "the script description shows as text");
    check(!(await acme.content()).includes("whsec_"), "the secret is not shown again");

    // Send a test event and wait for its delivery.
    await acme.click("text=Send a test event");
    let delivered = false;
    for (let i = 0; i < 60 && !delivered; i += 1) {
      await acme.goto(endpointUrl);
      delivered = (await acme.locator('section.message[data-outcome="delivered"]').count()) > 0;
      if (!delivered) await acme.waitForTimeout(250);
    }
    check(delivered, "the test event is delivered");
    const status = delivered
      ? (await acme.locator('section.message[data-outcome="delivered"] td.status').first().textContent()).trim()
      : "";
    check(/^2\d\d$/.test(status), `the attempt shows a 2xx status (${status})`);
    await acme.screenshot({ path: `${out}/endpoint-delivered.png`, fullPage: true });

    // Disable it.
    await acme.click("button:text('Disable')");
    check((await acme.textContent("#endpoint-state")).trim() === "disabled", "the endpoint is disabled");
    await acme.screenshot({ path: `${out}/endpoint-disabled.png`, fullPage: true });

    // A bad filter is shown next to its field.
    await acme.goto(`${base}/webhooks/portal/endpoints/new`);
    await acme.fill("#url", `${base}/receiver/acme-other`);
    await acme.fill("#filter", "total = = 1");
    await acme.click("form.endpoint button[type=submit]");
    check((await acme.textContent("#filter-error")).includes("column 9"), "a bad filter's column is shown inline");
    await acme.screenshot({ path: `${out}/filter-error.png`, fullPage: true });

    await acme.goto(`${base}/webhooks/portal/events`);
    check((await acme.content()).includes("Example payload"), "the catalogue shows example payloads");
    await acme.screenshot({ path: `${out}/events.png`, fullPage: true });

    // CSRF: the session's cookie goes with these requests, its token does not.
    const session = await acme.request.get(`${base}/webhooks/portal`);
    check(session.status() === 200, "the session works for a plain request");
    for (const [what, form] of [
      ["without a token", { url: `${base}/receiver/csrf` }],
      ["with a wrong token", { url: `${base}/receiver/csrf`, csrf: "forged" }],
    ]) {
      const response = await acme.request.post(`${base}/webhooks/portal/endpoints`, { form, maxRedirects: 0 });
      check(response.status() === 403, `a POST ${what} is refused (${response.status()})`);
    }
    // A form on another site, submitted in the signed-in browser: SameSite=Strict keeps the
    // cookie off it, and it has no token either.
    const attacker = await acme.context().newPage();
    await attacker.setContent(
      `<form method="post" action="${base}/webhooks/portal/endpoints">` +
        `<input name="url" value="${base}/receiver/csrf-cross-site"><button>go</button></form>`,
    );
    const [crossSite] = await Promise.all([attacker.waitForNavigation(), attacker.click("button")]);
    check([401, 403].includes(crossSite.status()), `a cross-site form post is refused (${crossSite.status()})`);
    await attacker.close();
    await acme.goto(`${base}/webhooks/portal`);
    check(!(await acme.content()).includes("/receiver/csrf"), "the refused posts created nothing");

    // Another tenant, in its own browser context, with its own link.
    const globex = await signIn(browser, process.env.PORTAL_LINK_B);
    check(!(await globex.content()).includes("acme-shop"), "another tenant's list does not show it");
    const stolen = await globex.goto(endpointUrl);
    check(stolen.status() === 403, `another tenant opening its page gets 403 (${stolen.status()})`);
    check(!(await globex.content()).includes("acme-shop"), "and no data");
    await globex.screenshot({ path: `${out}/other-tenant.png`, fullPage: true });

    check(acme.dialogs.length === 0 && globex.dialogs.length === 0, "no dialog fired");
  } finally {
    await browser.close();
  }
  console.log(`portal browser: ${passed} passed, ${failures.length} failed`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
