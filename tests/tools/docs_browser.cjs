// Drives Swagger UI and ReDoc in Debian's Chromium, with every request to another origin
// refused and recorded: loads /docs, logs in through "Authorize", calls GET /users/me with
// "Try it out", then loads /redoc. Prints one JSON object with what it saw.
// Usage: NODE_PATH=<node_modules with playwright-core> node docs_browser.cjs BASE EMAIL PASSWORD ME
// (ME: the path of GET /users/me in the schema).
const { chromium } = require("playwright-core");

const [base, email, password, mePath] = process.argv.slice(2);
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

(async () => {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
  const seen = { outside: [], errors: [], status: null, body: null, redocTitle: null };
  try {
    const context = await browser.newContext();
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (new URL(url).origin === new URL(base).origin) return route.continue();
      seen.outside.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on("console", (m) => m.type() === "error" && seen.errors.push(m.text()));
    page.on("pageerror", (e) => seen.errors.push(String(e)));

    await page.goto(`${base}/docs`);
    await page.locator(".auth-wrapper .btn.authorize").click();
    await page.fill("#oauth_username", email);
    await page.fill("#oauth_password", password);
    await page.locator(".auth-btn-wrapper .btn.authorize").click();
    await page.locator(".auth-btn-wrapper button", { hasText: "Logout" }).waitFor();
    await page.locator(".auth-btn-wrapper .btn-done").click();

    const me = page.locator(".opblock-get").filter({ has: page.locator(`[data-path="${mePath}"]`) });
    await me.locator(".opblock-summary").click();
    await me.locator(".try-out__btn").click();
    await me.locator(".execute").click();
    const live = me.locator(".live-responses-table .response");
    await live.waitFor();
    seen.status = (await live.locator(".response-col_status").innerText()).trim();
    seen.body = await live.locator(".response-col_description .microlight").first().innerText();

    await page.goto(`${base}/redoc`);
    seen.redocTitle = await page.locator("h1").first().innerText({ timeout: 15000 });
  } catch (error) {
    seen.errors.push(`driver: ${error}`);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})();
