// Copies the console's third-party browser files from web/node_modules (installed by `npm ci` from
// package-lock.json) into the Python package, so the server needs no Node at run time.
//
//   node web/vendor.mjs           write the files
//   node web/vendor.mjs --check   exit 1 if a vendored file differs from what the lock file gives
//
// Only files as the packages distribute them are copied, with their licence texts.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const WEB = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(WEB);
const MODULES = join(WEB, "node_modules");
const VENDOR = join(ROOT, "src", "myagent", "ui", "static", "vendor");

/** [package, file in the package, path under vendor/]. */
const FILES = [
  ["echarts", "dist/echarts.esm.min.js", "echarts/echarts.esm.min.js"],
  ["echarts", "LICENSE", "echarts/LICENSE"],
  ["echarts", "NOTICE", "echarts/NOTICE"],
  ["echarts", "licenses/LICENSE-d3", "echarts/LICENSE-d3"],
];

function packageVersion(name) {
  return JSON.parse(readFileSync(join(MODULES, name, "package.json"), "utf8")).version;
}

function expected() {
  const out = new Map();
  const packages = new Set();
  for (const [pkg, from, to] of FILES) {
    const source = join(MODULES, pkg, from);
    if (!existsSync(source)) {
      console.error(`vendor: ${relative(ROOT, source)} is missing: run \`npm ci --prefix web\` first`);
      process.exit(2);
    }
    out.set(to, readFileSync(source));
    packages.add(pkg);
  }
  for (const pkg of packages) {
    const lines = [
      `${pkg} ${packageVersion(pkg)} from the npm registry, copied by web/vendor.mjs (do not edit).`,
      "",
      ...FILES.filter(([p]) => p === pkg).map(([, from, to]) => {
        const sha = createHash("sha256").update(out.get(to)).digest("hex");
        return `${to.slice(pkg.length + 1)}  <-  ${pkg}/${from}  sha256:${sha}`;
      }),
      "",
    ];
    out.set(`${pkg}/SOURCE.txt`, Buffer.from(lines.join("\n")));
  }
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
  for (const path of onDisk()) if (!files.has(path)) problems.push(`not from web/package-lock.json: ${path}`);
  if (problems.length) {
    console.error(`vendor: ${relative(ROOT, VENDOR)} is not what web/package-lock.json gives:`);
    for (const problem of problems) console.error(`  ${problem}`);
    console.error("run `make web` (npm ci --prefix web && node web/vendor.mjs)");
    process.exit(1);
  }
  console.log(`vendor: ${files.size} files in ${relative(ROOT, VENDOR)} match web/package-lock.json`);
} else {
  rmSync(VENDOR, { recursive: true, force: true });
  for (const [path, content] of files) {
    const target = join(VENDOR, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
  console.log(`vendor: wrote ${files.size} files to ${relative(ROOT, VENDOR)}`);
}
