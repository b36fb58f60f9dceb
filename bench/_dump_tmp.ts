import { writeFileSync } from 'node:fs';
import { realisticEvents, EXTRA_RULES } from './rules.js';
const events = realisticEvents(50_000, 1).map((e, i) => ({ ...e, logTimeMs: 1_700_000_000_000 + i * 10, statementId: i }));
writeFileSync('/tmp/m/events.json', JSON.stringify(events));
writeFileSync('/tmp/m/extra.yaml', EXTRA_RULES);
