// docs/asyncapi.json, the machine-readable contract of the WebSocket protocol, is a valid
// AsyncAPI 3.0 document as the AsyncAPI project's own parser (@asyncapi/parser, which
// validates against the specification's JSON Schema, resolves every $ref and runs its
// Spectral rules) reads it. The document is generated from the server's wire types; the
// Rust tests check that it is current and that every frame the integration tests
// exchange, and every example, matches its schemas. No server, no browser, no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const source = new URL('../../docs/asyncapi.json', import.meta.url);

async function parse(text) {
  const { document, diagnostics } = await new Parser().parse(text);
  // Errors and warnings fail; information (e.g. "a newer AsyncAPI version exists") does not.
  const problems = diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning)
    .map((d) => `${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
  return { document, problems };
}

test('docs/asyncapi.json is a valid AsyncAPI 3.0 document', async () => {
  const text = await readFile(source, 'utf8');
  const { document, problems } = await parse(text);
  assert.deepEqual(problems, [], 'the AsyncAPI parser reports problems');
  assert.ok(document, 'the parser returned a document');
  assert.equal(document.version(), '3.0.0');

  const channel = document.channels().get('ws');
  assert.equal(channel.address(), '/ws');
  const names = document.allMessages().all().map((m) => m.name());
  for (const name of ['join', 'follow_sales', 'checkout', 'snapshot', 'resumed', 'error', 'event.comment', 'brand_sale']) {
    assert.ok(names.includes(name), `message ${name} is described`);
  }
  // The server receives what clients send and sends the rest; every message has an
  // operation.
  const ops = document.operations().all();
  const received = ops.filter((o) => o.action() === 'receive').flatMap((o) => o.messages().all().map((m) => m.name()));
  assert.ok(received.includes('join') && !received.includes('snapshot'), 'client messages are received by the server');
  assert.equal(new Set(ops.flatMap((o) => o.messages().all().map((m) => m.name()))).size, names.length);

  const error = document.components().schemas().get('server.error').json();
  const codes = error.properties.code.oneOf.map((c) => c.const);
  for (const code of ['invalid_input', 'sold_out', 'payment_unavailable', 'internal']) {
    assert.ok(codes.includes(code), `error code ${code} is listed`);
  }
});

test('the check fails for a document the parser refuses', async () => {
  // The check above can fail: a dangling reference and a wrong operation action are found.
  const doc = JSON.parse(await readFile(source, 'utf8'));
  doc.components.messages.join.payload = { $ref: '#/components/schemas/NoSuchSchema' };
  doc.operations.receive_join.action = 'listen';
  const { problems } = await parse(JSON.stringify(doc));
  assert.ok(problems.some((p) => p.includes('NoSuchSchema')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('action')), problems.join('\n'));
});
