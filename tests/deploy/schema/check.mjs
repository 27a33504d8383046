// Schema check of rendered Kubernetes objects (tests/deploy/schema_test.sh).
//
//   node check.mjs OBJECTS.json WORKDIR
//
// OBJECTS.json: [{target, objects: [...]}] as rendered by kubectl kustomize. Every object must
// have a typed model (kubernetes-models for Kubernetes' own kinds, @kubernetes-models/cert-manager
// and @kubernetes-models/prometheus-operator for those CRDs); an object of any other kind fails.
//
// 1. TypeScript: WORKDIR/objects.ts assigns each object, as an object literal, to a constant of
//    its model's interface (IStatefulSet, ICertificate, ...), and `tsc --noEmit --strict` must
//    accept it. An object literal may name only known properties (excess property checks apply
//    at every depth of a fresh literal), so a misspelled field anywhere is a compile error, as
//    is a wrong type or a missing required field.
// 2. The models' own validate() (JSON schema from the OpenAPI definitions): types, enums,
//    formats and required fields at run time.
// 3. Self-check, so that a checker that accepts everything cannot pass: misspelled fields in
//    copies of real objects (a container's readinessProbe, a Certificate's dnsNames, an object's
//    metadata.labels) must each fail tsc with an error naming the field, and a copy with a
//    wrong type (a StatefulSet's replicas as a string, a Certificate's duration as a number)
//    must fail validate().
//
// Prints "N passed, M failed" and exits 0 only when every check passed.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const [objectsFile, workdir] = process.argv.slice(2);
if (!objectsFile || !workdir) {
  console.error("usage: node check.mjs OBJECTS.json WORKDIR");
  process.exit(2);
}
let passed = 0;
let failed = 0;
function check(cond, what) {
  if (cond) passed++;
  else {
    failed++;
    console.log(`FAIL: ${what}`);
  }
  return cond;
}

// The model module of an apiVersion and kind, or null.
const CRD_PACKAGES = {
  "cert-manager.io": "@kubernetes-models/cert-manager",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};
function modelModule(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  let mod;
  if (group === "") mod = `kubernetes-models/${apiVersion}/${kind}`;
  else if (CRD_PACKAGES[group]) mod = `${CRD_PACKAGES[group]}/${apiVersion}/${kind}`;
  else mod = `kubernetes-models/${apiVersion}/${kind}`;
  try {
    require.resolve(mod);
    return mod;
  } catch {
    return null;
  }
}
const label = (o) => `${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? "?"}`;

// TypeScript for a list of [name, object]: one typed constant each.
function typescript(entries) {
  const imports = new Map();
  const body = [];
  for (const [name, o] of entries) {
    const mod = modelModule(o.apiVersion, o.kind);
    const iface = `I${o.kind}`;
    const alias = `${iface}_${imports.size}`;
    if (!imports.has(mod)) imports.set(mod, alias);
    body.push(`// ${name}\nexport const ${name}: ${imports.get(mod)} = ${JSON.stringify(o, null, 2)};\n`);
  }
  const head = [...imports].map(
    ([mod, alias]) => `import type { ${alias.replace(/_\d+$/, "")} as ${alias} } from "${mod}";`);
  return head.join("\n") + "\n\n" + body.join("\n");
}

// tsc --noEmit on the files; [exit status, output].
function tsc(files) {
  const config = {
    compilerOptions: {
      strict: true, noEmit: true, target: "es2020", module: "esnext",
      moduleResolution: "bundler", skipLibCheck: true, types: [],
    },
    files,
  };
  fs.writeFileSync(path.join(workdir, "tsconfig.json"), JSON.stringify(config, null, 2));
  try {
    const out = execFileSync(process.execPath,
      [path.join(here, "node_modules", "typescript", "bin", "tsc"), "-p", workdir, "--pretty", "false"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return [0, out];
  } catch (e) {
    return [e.status ?? 1, `${e.stdout ?? ""}${e.stderr ?? ""}`];
  }
}

async function validate(o) {
  const mod = await import(modelModule(o.apiVersion, o.kind));
  const Model = mod[o.kind];
  try {
    new Model(o).validate();
    return null;
  } catch (e) {
    return String(e.message ?? e).split("\n").slice(0, 5).join(" | ");
  }
}

const targets = JSON.parse(fs.readFileSync(objectsFile, "utf8"));
fs.mkdirSync(workdir, { recursive: true });
// node_modules beside the generated files, for tsc's module resolution.
const link = path.join(workdir, "node_modules");
if (!fs.existsSync(link)) fs.symlinkSync(path.join(here, "node_modules"), link);

// 1 and 2 on everything rendered.
const entries = [];
const kinds = new Set();
for (const { target, objects } of targets) {
  check(objects.length > 0, `${target}: rendered objects`);
  for (const o of objects) {
    if (!check(modelModule(o.apiVersion, o.kind) !== null,
               `${target}: ${label(o)}: a model for ${o.apiVersion} ${o.kind}`)) continue;
    kinds.add(`${o.apiVersion} ${o.kind}`);
    entries.push([`o${entries.length}`, o, target]);
    const err = await validate(o);
    check(err === null, `${target}: ${label(o)}: validate(): ${err}`);
  }
}
fs.writeFileSync(path.join(workdir, "objects.ts"), typescript(entries.map(([n, o]) => [n, o])));
const [status, out] = tsc(["objects.ts"]);
if (!check(status === 0, `tsc accepts every rendered object (exit ${status})`)) {
  // Name the objects the errors are in.
  const lines = fs.readFileSync(path.join(workdir, "objects.ts"), "utf8").split("\n");
  for (const m of out.matchAll(/objects\.ts\((\d+),\d+\): (.*)/g)) {
    let i = Number(m[1]) - 1;
    while (i > 0 && !lines[i].startsWith("export const ")) i--;
    const name = lines[i].split(" ")[2].replace(":", "");
    const [, o, target] = entries.find(([n]) => n === name);
    console.log(`  ${target}: ${label(o)}: ${m[2]}`);
  }
}
console.log(`checked ${entries.length} objects of ${kinds.size} kinds: ${[...kinds].sort().join(", ")}`);

// 3. The checker must be able to fail.
const first = (kind, has = () => true) =>
  structuredClone(entries.find(([, o]) => o.kind === kind && has(o))?.[1]);
const rename = (obj, key, to) => {
  obj[to] = obj[key];
  delete obj[key];
};
const negatives = [];
const sts = first("StatefulSet");
if (check(sts, "a StatefulSet to mutate")) {
  rename(sts.spec.template.spec.containers[0], "readinessProbe", "readinesProbe");
  negatives.push(["badContainerField", sts, "readinesProbe"]);
}
const cert = first("Certificate", (o) => o.spec.dnsNames);
if (check(cert, "a Certificate to mutate")) {
  rename(cert.spec, "dnsNames", "dnsName");
  negatives.push(["badCertificateField", cert, "dnsName"]);
}
const svc = first("Service");
if (check(svc, "a Service to mutate")) {
  rename(svc.metadata, "labels", "lables");
  negatives.push(["badMetadataField", svc, "lables"]);
}
fs.writeFileSync(path.join(workdir, "negatives.ts"), typescript(negatives.map(([n, o]) => [n, o])));
const [nstatus, nout] = tsc(["negatives.ts"]);
check(nstatus !== 0, "tsc refuses misspelled fields");
const neg = fs.readFileSync(path.join(workdir, "negatives.ts"), "utf8").split("\n");
for (const [name, , field] of negatives) {
  // The error must be on the misspelled property's own line, and name it.
  const line = neg.findIndex((l) => l.trim().startsWith(`"${field}":`)) + 1;
  const re = new RegExp(`negatives\\.ts\\(${line},\\d+\\): error TS\\d+: [^\\n]*'"?${field}"?'`);
  check(line > 0 && re.test(nout), `${name}: tsc names the misspelled field '${field}' (line ${line})`);
}
const badReplicas = first("StatefulSet");
badReplicas.spec.replicas = "three";
check((await validate(badReplicas)) !== null, "validate() refuses a StatefulSet with replicas: \"three\"");
const badDuration = first("Certificate");
if (badDuration) {
  badDuration.spec.duration = 2160;
  check((await validate(badDuration)) !== null, "validate() refuses a Certificate with duration: 2160");
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
