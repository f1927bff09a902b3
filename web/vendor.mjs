// Copies the console's browser files that come from elsewhere into the Python package, so the server
// needs no Node at run time:
//
// * third-party files from web/node_modules (installed by `npm ci` from web/package-lock.json);
// * the browser ESM build of our own `@myagent/client` from clients/js/dist (made by
//   `npm run build --prefix clients/js` from clients/js/package-lock.json): the console's protocol layer.
//
//   node web/vendor.mjs           write the files
//   node web/vendor.mjs --check   exit 1 if a vendored file differs from what the lock files and sources give
//
// Only files as the packages distribute them (or as the build writes them) are copied, with licence texts.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const WEB = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(WEB);
const MODULES = join(WEB, "node_modules");
const VENDOR = join(ROOT, "src", "myagent", "ui", "static", "vendor");
const CLIENT = join(ROOT, "clients", "js");

/** [package, file in the package, path under vendor/]. */
const FILES = [
  ["echarts", "dist/echarts.esm.min.js", "echarts/echarts.esm.min.js"],
  ["echarts", "LICENSE", "echarts/LICENSE"],
  ["echarts", "NOTICE", "echarts/NOTICE"],
  ["echarts", "licenses/LICENSE-d3", "echarts/LICENSE-d3"],
];

/** Our own builds: the entry module and every module it imports by a relative path. */
const BUILDS = [{ name: "@myagent/client", root: CLIENT, dist: "dist", entry: "index.js", to: "myagent-client" }];

function fail(message) {
  console.error(`vendor: ${message}`);
  process.exit(2);
}

function packageVersion(dir) {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
}

function sha256(content) {
  return createHash("sha256").update(content).digest("hex");
}

function sourceNote(head, rows) {
  return Buffer.from([head, "", ...rows.map(([to, from, content]) => `${to}  <-  ${from}  sha256:${sha256(content)}`), ""].join("\n"));
}

function addPackages(out) {
  const packages = new Set();
  for (const [pkg, from, to] of FILES) {
    const source = join(MODULES, pkg, from);
    if (!existsSync(source)) fail(`${relative(ROOT, source)} is missing: run \`npm ci --prefix web\` first`);
    out.set(to, readFileSync(source));
    packages.add(pkg);
  }
  for (const pkg of packages) {
    const rows = FILES.filter(([p]) => p === pkg).map(([, from, to]) => [to.slice(pkg.length + 1), `${pkg}/${from}`, out.get(to)]);
    const head = `${pkg} ${packageVersion(join(MODULES, pkg))} from the npm registry, copied by web/vendor.mjs (do not edit).`;
    out.set(`${pkg}/SOURCE.txt`, sourceNote(head, rows));
  }
}

/** Module specifiers of an ES module (static imports, re-exports and dynamic imports). */
function moduleImports(code) {
  const found = new Set();
  const patterns = [/\bfrom\s*["']([^"']+)["']/g, /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g, /\bimport\s*["']([^"']+)["']/g];
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) found.add(match[1]);
  return [...found];
}

function addBuilds(out) {
  for (const build of BUILDS) {
    const dist = join(build.root, build.dist);
    const entry = join(dist, build.entry);
    if (!existsSync(entry)) fail(`${relative(ROOT, entry)} is missing: run \`make js-client\` (npm ci and npm run build in ${relative(ROOT, build.root)})`);
    const rows = [];
    const queue = [build.entry];
    const seen = new Set();
    while (queue.length) {
      const file = queue.shift();
      if (seen.has(file)) continue;
      seen.add(file);
      const source = join(dist, file);
      if (!existsSync(source)) fail(`${relative(ROOT, source)} is imported by the build but missing`);
      const content = readFileSync(source);
      out.set(`${build.to}/${file}`, content);
      rows.push([file, `${relative(ROOT, dist)}/${file}`, content]);
      for (const spec of moduleImports(content.toString("utf8"))) {
        // The console loads these files as they are: a browser cannot resolve a package name.
        if (!spec.startsWith("./") && !spec.startsWith("../")) fail(`${file} imports "${spec}": the browser build must be self-contained`);
        const target = normalize(join(dirname(file), spec)).split("\\").join("/");
        if (target.startsWith("..")) fail(`${file} imports ${spec}, outside ${relative(ROOT, dist)}`);
        queue.push(target);
      }
    }
    const head = [
      `${build.name} ${packageVersion(build.root)}: the browser ESM build of ${relative(ROOT, build.root)}`,
      `(npm ci && npm run build, pinned by its package-lock.json), copied by web/vendor.mjs (do not edit).`,
    ].join("\n");
    out.set(`${build.to}/SOURCE.txt`, sourceNote(head, rows));
  }
}

function expected() {
  const out = new Map();
  addPackages(out);
  addBuilds(out);
  return out;
}

function onDisk() {
  const found = [];
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else found.push(relative(VENDOR, path).split("\\").join("/"));
    }
  };
  walk(VENDOR);
  return found.sort();
}

const files = expected();
if (process.argv.includes("--check")) {
  const problems = [];
  for (const [path, content] of files) {
    const target = join(VENDOR, path);
    if (!existsSync(target)) problems.push(`missing: ${path}`);
    else if (!readFileSync(target).equals(content)) problems.push(`differs: ${path}`);
  }
  for (const path of onDisk()) if (!files.has(path)) problems.push(`not from the lock files or builds: ${path}`);
  if (problems.length) {
    console.error(`vendor: ${relative(ROOT, VENDOR)} is not what the lock files and clients/js give:`);
    for (const problem of problems) console.error(`  ${problem}`);
    console.error("run `make web` (npm ci --prefix web, the clients/js build, node web/vendor.mjs)");
    process.exit(1);
  }
  console.log(`vendor: ${files.size} files in ${relative(ROOT, VENDOR)} match web/package-lock.json and the clients/js build`);
} else {
  rmSync(VENDOR, { recursive: true, force: true });
  for (const [path, content] of files) {
    const target = join(VENDOR, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  console.log(`vendor: wrote ${files.size} files to ${relative(ROOT, VENDOR)}`);
}
