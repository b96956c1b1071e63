// Every error code and every configuration variable is documented in README.md.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { CONFIG_VARIABLES } from '../../hub/config.js';
import { ERRORS } from '../../protocol/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

t.test('every error code is in README', async (t) => {
  for (const code of Object.keys(ERRORS)) t.match(readme, `\`${code}\``, code);
});

t.test('every configuration variable is in README', async (t) => {
  for (const name of CONFIG_VARIABLES) t.match(readme, `\`${name}\``, name);
});
