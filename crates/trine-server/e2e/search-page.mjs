// End-to-end test of trine's search page: builds a small index with the real model and clusters
// it into topics, starts `trine serve`, drives the page in headless Chromium (type a query,
// switch modes, read the results, filter by a topic facet, reload the URL), then stops the
// server with SIGTERM and expects a clean exit.
//
// Environment: TRINE (binary, default target/release/trine), TRINE_MODEL (model folder),
// CHROMIUM (default /usr/bin/chromium), E2E_OUT (folder for a screenshot, optional).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const trine = process.env.TRINE ?? join(root, "target/release/trine");
const model = process.env.TRINE_MODEL ?? join(root, "models/all-MiniLM-L6-v2");
const tmp = mkdtempSync(join(tmpdir(), "trine-e2e-"));
const index = join(tmp, "idx");
const port = 17000 + Math.floor(Math.random() * 2000);
const base = `http://127.0.0.1:${port}`;

const build = spawnSync(trine, ["index", "build", "--corpus", join(here, "docs.jsonl"),
  "--model", model, "--out", index], { stdio: "inherit" });
assert.equal(build.status, 0, "index build failed");
const clustered = spawnSync(trine, ["index", "cluster", index, "--k", "4", "--keywords", "5"],
  { stdio: "inherit" });
assert.equal(clustered.status, 0, "index cluster failed");

const server = spawn(trine, ["serve", index, "--model", model, "--addr", `127.0.0.1:${port}`],
  { stdio: ["ignore", "inherit", "inherit"] });
const exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));

async function waitForHealth() {
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${base}/health`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not become healthy");
}

let browser;
try {
  await waitForHealth();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage();
  await page.goto(base + "/");

  // Lexical: the words of the query appear highlighted in the top hit.
  await page.fill("#query", "vitamin D deficiency");
  await page.check("input[name=mode][value=lexical]");
  await page.click("button[type=submit]");
  await page.waitForSelector("#results li.hit");
  const first = page.locator("#results li.hit").first();
  assert.match(await first.locator(".title").innerText(), /Vitamin D and bones/);
  assert.ok((await first.locator(".snippet b").count()) > 0, "snippet highlights matches");
  assert.match(await first.locator(".scores").innerText(), /lexical \d\.\d{4} #1 · dense – –/);

  // Dense: a paraphrase without shared words still finds the space documents first.
  await page.fill("#query", "astronauts travelling beyond the atmosphere");
  await page.check("input[name=mode][value=dense]");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("(dense)"));
  const denseTop = await page.locator("#results li.hit .id").first().innerText();
  assert.match(denseTop, /space-/);
  assert.match(await page.locator("#results li.hit .scores").first().innerText(), /dense \d\.\d{4} #1/);

  // Hybrid: both retrievers' ranks are shown.
  await page.fill("#query", "pasta sauce");
  await page.check("input[name=mode][value=hybrid]");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("(hybrid)"));
  assert.match(await page.locator("#results li.hit .id").first().innerText(), /food-/);
  assert.equal(await page.locator("#results li.hit").count(), 8);

  // Topics: the facets count the hits' topics; clicking one shows only its hits, the URL keeps
  // the search, and reloading it gives the same page.
  await page.waitForSelector("#facets li.facet[data-topic]");
  const facetTotal = await page.$$eval("#facets li.facet[data-topic] .count",
    (cs) => cs.reduce((n, c) => n + Number(c.textContent), 0));
  assert.equal(facetTotal, 8, "every candidate is counted in one topic");
  const topTopic = await page.locator("#results li.hit .topic").first().getAttribute("data-topic");
  const topicCount = Number(await page.locator(`#facets li.facet[data-topic="${topTopic}"] .count`).innerText());
  await page.click(`#facets li.facet[data-topic="${topTopic}"] button`);
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes(" in topic "));
  const shown = await page.$$eval("#results li.hit .topic", (ts) => ts.map((t) => t.dataset.topic));
  assert.equal(shown.length, topicCount, "the filtered page shows the facet's count of hits");
  assert.ok(shown.every((t) => t === topTopic), `only topic ${topTopic}: ${shown}`);
  assert.match(page.url(), new RegExp(`[?&]topic=${topTopic}(&|$)`));
  assert.match(page.url(), /[?&]q=pasta\+sauce/);
  const filteredIds = await page.$$eval("#results li.hit .id", (ids) => ids.map((i) => i.textContent));
  await page.reload();
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes(" in topic "));
  assert.deepEqual(await page.$$eval("#results li.hit .id", (ids) => ids.map((i) => i.textContent)),
    filteredIds, "reloading the URL gives the same hits");
  assert.equal(await page.locator("#query").inputValue(), "pasta sauce");
  assert.equal(await page.locator("#facets li.active").getAttribute("data-topic"), topTopic);
  // "all topics" lifts the filter; "more from this topic" on a hit of another topic sets it.
  await page.click("#facets li.facet:not([data-topic]) button");
  await page.waitForFunction(() => !document.querySelector("#status").textContent.includes(" in topic "));
  assert.equal(await page.locator("#results li.hit").count(), 8);
  const other = page.locator(`#results li.hit .topic:not([data-topic="${topTopic}"])`).first();
  const otherTopic = await other.getAttribute("data-topic");
  await other.locator("a.more").click();
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes(" in topic "));
  assert.ok((await page.$$eval("#results li.hit .topic", (ts) => ts.map((t) => t.dataset.topic)))
    .every((t) => t === otherTopic));

  // An empty query is refused by the form; a query of spaces gets the server's error.
  await page.fill("#query", "   ");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("empty"));

  if (process.env.E2E_OUT) {
    mkdirSync(process.env.E2E_OUT, { recursive: true });
    await page.fill("#query", "vitamin D deficiency");
    await page.click("button[type=submit]");
    await page.waitForSelector("#results li.hit");
    await page.screenshot({ path: join(process.env.E2E_OUT, "search-page.png"), fullPage: true });
  }
  console.log("e2e: search page OK");
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
}
const { code, signal } = await exited;
assert.equal(code, 0, `server exited with ${code} (${signal}) after SIGTERM`);
console.log("e2e: graceful shutdown OK");
