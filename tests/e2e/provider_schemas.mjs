// Validates provider exports (`Server::export`, `quickstart --export FORMAT`) against the JSON
// Schemas in tests/fixtures/export/schemas/, each transcribed from the provider's published
// schema or types (its `$comment` names the source). Run by tests/export.rs.
//
//   node provider_schemas.mjs                        # every committed export fixture
//   node provider_schemas.mjs PROVIDER=FILE ...      # the given documents
//
// PROVIDER is keycloak, auth0, entra or okta. The schemas are compiled in Ajv's strict mode, so a
// keyword Ajv does not know (a typo that would silently validate nothing) fails the run too.
//
// stderr: `ok PROVIDER FILE`, or `fail PROVIDER FILE` and one line per error. stdout: one JSON
// line `{"ok":…,"documents":[{"provider","file","ok","errors":[{instancePath,keyword,params,
// message}]}]}`. Exit 0 when every document is valid, 1 when one is not, 2 on bad usage.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';

import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const PROVIDERS = ['keycloak', 'auth0', 'entra', 'okta'];
const EXPORTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'export');

function usage(message) {
  console.error(`provider_schemas: ${message}\nusage: node provider_schemas.mjs [PROVIDER=FILE ...]`);
  process.exit(2);
}

const documents = process.argv.length > 2
  ? process.argv.slice(2).map((arg) => {
      const at = arg.indexOf('=');
      if (at < 0) usage(`expected PROVIDER=FILE, got ${JSON.stringify(arg)}`);
      return { provider: arg.slice(0, at), file: arg.slice(at + 1) };
    })
  : PROVIDERS.map((provider) => ({ provider, file: join(EXPORTS, `${provider}.json`) }));
for (const { provider } of documents) {
  if (!PROVIDERS.includes(provider)) usage(`unknown provider ${JSON.stringify(provider)}: use one of ${PROVIDERS.join(', ')}`);
}

// allErrors: report every mismatch of a document, not the first.
const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
addFormats(ajv);
// Every schema compiled first: a schema Ajv refuses fails the run before any document is judged.
const validators = new Map(
  [...new Set(documents.map((d) => d.provider))].map((provider) => {
    const schema = JSON.parse(readFileSync(join(EXPORTS, 'schemas', `${provider}.schema.json`), 'utf8'));
    return [provider, ajv.compile(schema)];
  }),
);

const results = documents.map(({ provider, file }) => {
  const validate = validators.get(provider);
  const valid = validate(JSON.parse(readFileSync(file, 'utf8')));
  const errors = (validate.errors ?? []).map(({ instancePath, keyword, params, message }) => ({
    instancePath,
    keyword,
    params,
    message,
  }));
  const shown = relative(process.cwd(), file) || file;
  console.error(`${valid ? 'ok' : 'fail'} ${provider} ${shown}`);
  for (const e of errors) {
    console.error(`  ${e.instancePath || '(document)'} ${e.message} ${JSON.stringify(e.params)}`);
  }
  return { provider, file, ok: valid, errors };
});

const ok = results.every((r) => r.ok);
console.log(JSON.stringify({ ok, documents: results }));
process.exit(ok ? 0 : 1);
