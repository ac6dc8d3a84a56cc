// What keeps the client library honest without a server: the web demo has one WebSocket
// client (sdk/link.js); the library's JSDoc types check with TypeScript; and those types
// say exactly what the AsyncAPI document generated from the Rust wire types says
// (docs/asyncapi.json, served at /api/asyncapi.json): the same messages and event kinds,
// the same fields, the same required and nullable ones, the same enums and error codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { REPO_ROOT, WEB_DEMO } from '../support/livecart.mjs';

const require = createRequire(import.meta.url);
const SDK = path.join(WEB_DEMO, 'sdk');
const ASYNCAPI = path.join(REPO_ROOT, 'docs', 'asyncapi.json');

/** Every source file of the web demo that a browser or Node runs (not dependencies, not tests). */
function sources(dir = WEB_DEMO, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'tests', 'vendor', 'screenshots', 'test-results'].includes(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sources(full, found);
    else if (/\.(m?js|html)$/.test(entry.name)) found.push(full);
  }
  return found;
}

test('the web demo has exactly one WebSocket client, in sdk/', () => {
  const opening = sources().filter((file) => /new\s+(globalThis\.|window\.|this\.)?WebSocket\b/.test(readFileSync(file, 'utf8')));
  assert.deepEqual(opening.map((f) => path.relative(WEB_DEMO, f)), ['sdk/link.js']);
  const open = readFileSync(path.join(SDK, 'link.js'), 'utf8').match(/new\s+this\.WebSocket\b/g) ?? [];
  assert.equal(open.length, 1, 'sdk/link.js opens sockets in one place');
});

test('the library\'s JSDoc types check with TypeScript (npm run typecheck)', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', path.join(SDK, 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(run.status, 0, `tsc found problems:\n${run.stdout}${run.stderr}`);
});

test('the typedefs match the AsyncAPI document of the wire types', (t) => {
  if (!existsSync(ASYNCAPI)) {
    t.skip(`${path.relative(REPO_ROOT, ASYNCAPI)} is not there`);
    return;
  }
  const doc = JSON.parse(readFileSync(ASYNCAPI, 'utf8'));
  const problems = compareWithAsyncApi(doc.components.schemas);
  assert.deepEqual(problems, [], `sdk/types.js and ${path.relative(REPO_ROOT, ASYNCAPI)} disagree:\n${problems.join('\n')}`);
});

// ---------- the comparison ----------

function compareWithAsyncApi(schemas) {
  const ts = require('typescript');
  const file = path.join(SDK, 'types.js');
  const program = ts.createProgram([file], { allowJs: true, checkJs: true, noEmit: true, strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 });
  const checker = program.getTypeChecker();
  const exported = new Map(checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(file))).map((s) => [s.name, s]));
  const typedef = (name) => {
    const symbol = exported.get(name);
    assert.ok(symbol, `sdk/types.js has no typedef ${name}`);
    return checker.getDeclaredTypeOfSymbol(symbol);
  };
  const problems = [];
  const strip = (type) => (type.isUnion() ? type.types.filter((t) => !(t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined))) : [type]);
  const hasNull = (type) => type.isUnion() ? type.types.some((t) => t.flags & ts.TypeFlags.Null) : Boolean(type.flags & ts.TypeFlags.Null);
  const resolve = (schema) => {
    let s = schema;
    while (s?.$ref) s = schemas[s.$ref.replace('#/components/schemas/', '')];
    return s;
  };
  // A schema's non-null alternatives, resolved, and whether it admits null.
  const alternatives = (schema) => {
    const s = resolve(schema);
    if (s.oneOf && s.oneOf.every((o) => 'const' in o)) return { nullable: false, options: [s] };
    const parts = s.oneOf ?? s.anyOf ?? [s];
    let nullable = false;
    const options = [];
    for (const part of parts) {
      const r = resolve(part);
      const types = Array.isArray(r.type) ? r.type : r.type ? [r.type] : [];
      if (types.includes('null')) nullable = true;
      if (types.length === 1 && types[0] === 'null') continue;
      options.push(types.includes('null') ? { ...r, type: types.filter((x) => x !== 'null')[0] } : r);
    }
    return { nullable, options };
  };
  const literals = (type) => strip(type).map((t) => (t.isStringLiteral() ? t.value : null));

  function compare(where, schema, type) {
    const { options } = alternatives(schema);
    const members = strip(type);
    if (options.length !== 1) {
      compareTagged(where, options, members);
      return;
    }
    const s = options[0];
    const values = s.enum ?? (s.oneOf?.every((o) => 'const' in o) ? s.oneOf.map((o) => o.const) : s.const !== undefined ? [s.const] : null);
    if (values) {
      const mine = literals(type);
      if (mine.includes(null) || [...mine].sort().join() !== [...values].sort().join()) {
        problems.push(`${where}: values ${JSON.stringify([...values].sort())}, the typedef has ${checker.typeToString(type)}`);
      }
      return;
    }
    if (s.type === 'array') {
      const [array] = members;
      if (members.length !== 1 || !checker.isArrayType(array)) problems.push(`${where}: an array in the schema, ${checker.typeToString(type)} in the typedef`);
      else compare(`${where}[]`, s.items, checker.getTypeArguments(array)[0]);
      return;
    }
    if (s.type === 'object' || s.properties) {
      const object = members.length === 1 ? members[0] : checker.getIntersectionType?.(members) ?? members[0];
      if (members.length !== 1) problems.push(`${where}: an object in the schema, ${checker.typeToString(type)} in the typedef`);
      compareObject(where, s, object);
      return;
    }
    const flags = members.reduce((f, t) => f | t.flags, 0);
    const expect = { integer: ts.TypeFlags.NumberLike, number: ts.TypeFlags.NumberLike, string: ts.TypeFlags.StringLike, boolean: ts.TypeFlags.BooleanLike }[s.type];
    if (!expect || !(flags & expect) || (flags & ~expect & ~ts.TypeFlags.Union)) {
      problems.push(`${where}: ${s.type} in the schema, ${checker.typeToString(type)} in the typedef`);
    }
  }

  /** A union of tagged objects (room events): each alternative against the member with its tag. */
  function compareTagged(where, options, members) {
    const tagOf = (option) => Object.entries(option.properties ?? {}).find(([, p]) => p.enum?.length === 1);
    const tags = options.map(tagOf);
    if (tags.some((t) => !t) || new Set(tags.map(([name]) => name)).size !== 1) {
      problems.push(`${where}: alternatives without a common tag; compare by hand`);
      return;
    }
    const tag = tags[0][0];
    const byValue = new Map();
    for (const member of members) {
      const prop = checker.getPropertyOfType(member, tag);
      const value = prop && checker.getTypeOfSymbol(prop);
      if (value?.isStringLiteral()) byValue.set(value.value, member);
    }
    for (const [i, option] of options.entries()) {
      const value = tags[i][1].enum[0];
      if (!byValue.has(value)) problems.push(`${where}: no typedef member with ${tag} "${value}"`);
      else compareObject(`${where}<${value}>`, option, byValue.get(value));
      byValue.delete(value);
    }
    for (const value of byValue.keys()) problems.push(`${where}: the typedef has ${tag} "${value}", the schema does not`);
  }

  function compareObject(where, schema, type) {
    const props = new Map(checker.getPropertiesOfType(type).map((p) => [p.name, p]));
    if (!schema.properties && schema.additionalProperties) {
      // A map (reaction counts): its keys are the enum of `propertyNames`.
      const keys = schema.propertyNames?.enum;
      if (keys && [...props.keys()].sort().join() !== [...keys].sort().join()) problems.push(`${where}: keys ${keys}, the typedef has ${[...props.keys()]}`);
      for (const [name, prop] of props) compare(`${where}.${name}`, schema.additionalProperties, checker.getTypeOfSymbol(prop));
      return;
    }
    const required = new Set(schema.required ?? []);
    for (const name of Object.keys(schema.properties ?? {})) {
      const prop = props.get(name);
      if (!prop) {
        problems.push(`${where}.${name}: in the schema, not in the typedef`);
        continue;
      }
      const propType = checker.getTypeOfSymbol(prop);
      const optional = Boolean(prop.flags & ts.SymbolFlags.Optional);
      const nullable = hasNull(propType);
      const schemaNullable = alternatives(schema.properties[name]).nullable;
      if (required.has(name) && optional) problems.push(`${where}.${name}: required in the schema, optional in the typedef`);
      if (schemaNullable && !nullable && !optional) problems.push(`${where}.${name}: may be null in the schema; the typedef says never`);
      if (!schemaNullable && nullable) problems.push(`${where}.${name}: never null in the schema; the typedef says it may be`);
      if (!required.has(name) && !optional && !nullable) problems.push(`${where}.${name}: may be left out in the schema; the typedef says always there`);
      compare(`${where}.${name}`, schema.properties[name], propType);
    }
    for (const name of props.keys()) {
      if (!(name in (schema.properties ?? {}))) problems.push(`${where}.${name}: in the typedef, not in the schema`);
    }
  }

  /** The members of a tagged union typedef, by their tag's value. */
  function byTag(unionName, tag) {
    const members = new Map();
    for (const member of strip(typedef(unionName))) {
      const tagProp = checker.getPropertyOfType(member, tag);
      const value = tagProp && checker.getTypeOfSymbol(tagProp);
      if (value?.isStringLiteral()) members.set(value.value, member);
      else problems.push(`${unionName}: a member without a literal ${tag}: ${checker.typeToString(member)}`);
    }
    return members;
  }

  for (const [prefix, union, tag] of [['client', 'ClientMessage', 'type'], ['server', 'ServerMessage', 'type'], ['event', 'RoomEvent', 'kind']]) {
    const mine = byTag(union, tag);
    const theirs = Object.keys(schemas).filter((k) => k.startsWith(`${prefix}.`)).map((k) => k.slice(prefix.length + 1));
    for (const name of theirs) {
      if (!mine.has(name)) problems.push(`${prefix}.${name}: in the schema, no member of ${union}`);
      else compare(`${prefix}.${name}`, { $ref: `#/components/schemas/${prefix}.${name}` }, mine.get(name));
    }
    for (const name of mine.keys()) if (!theirs.includes(name)) problems.push(`${union} member ${name}: no ${prefix}.${name} in the schema`);
  }
  // The error codes: ErrorCode is exactly the codes an error frame may carry.
  compare('ErrorCode', schemas['server.error'].properties.code, typedef('ErrorCode'));
  return problems;
}
