/** Synthetic alerts for delivery tests: deterministic ids, a statement with literals, bind values. */
import type { Alert } from '../../src/pipeline/alert.js';

export const SECRET_LITERAL = 'hunter2-SECRET';

export function makeAlert(i: number, over: Partial<Alert> = {}): Alert {
  const id = `a${String(i).padStart(31, '0')}`;
  return {
    id,
    kind: 'activity',
    ruleId: 'pg.role-password-change',
    severity: 'high',
    tags: ['pci-dss:8.2', 'cis'],
    description: 'A role password was changed',
    message: `role password changed by app_admin (#${i})`,
    clusterId: 'cluster-ABCDEFGHIJKLMNOP',
    instanceId: 'db-QRSTUVWXYZ012345',
    time: '2026-11-20T10:00:00.000Z',
    source: `test:${i}`,
    event: {
      engine: 'postgresql',
      clusterId: 'cluster-ABCDEFGHIJKLMNOP',
      instanceId: 'db-QRSTUVWXYZ012345',
      class: 'ROLE',
      command: 'ALTER ROLE',
      dbUserName: 'app_admin',
      remoteHost: '10.0.0.7',
      databaseName: 'payments',
      objectName: 'app',
      commandText: `ALTER ROLE app PASSWORD '${SECRET_LITERAL}' VALID UNTIL '2027-01-01'`,
      paramList: [SECRET_LITERAL, 4111111111111111],
      logTime: '2026-11-20 10:00:00.000+00',
    },
    ...over,
  };
}
