/**
 * Installed for every jest test file (jest.config.js setupFilesAfterEnv): each ARM exchange a
 * simulator serves in the file is checked against the SDK models (src/local/azure-sim/contract), and
 * the file fails if any request or answer differs from them. Tests that send malformed bodies on
 * purpose mark the exchange with `expectContractViolations` (test/support/arm-contract-expect.ts).
 */
import {
  checkExchange,
  setArmExchangeObserver,
  type ContractViolation,
} from '../../src/local/azure-sim/contract';

interface Finding {
  operation: string;
  violations: ContractViolation[];
}

const findings: Finding[] = [];
const state = globalThis as { __armContractExpected?: number };

setArmExchangeObserver((exchange) => {
  const violations = checkExchange(exchange);
  if (violations.length === 0) return;
  if ((state.__armContractExpected ?? 0) > 0) return;
  findings.push({
    operation: `${exchange.method} ${exchange.path} (api-version ${exchange.apiVersion ?? '-'}) → ${exchange.status}`,
    violations,
  });
});

afterAll(() => {
  setArmExchangeObserver(undefined);
  if (findings.length === 0) return;
  // One line per distinct problem: the same simulator answer repeats on every poll.
  const lines = new Set<string>();
  for (const f of findings)
    for (const v of f.violations)
      lines.add(
        `${f.operation.replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/gi, '…')}: ${v.path}: ${v.problem}`,
      );
  throw new Error(
    `ARM exchanges differ from the SDK models (src/local/azure-sim/contract):\n${[...lines].slice(0, 60).join('\n')}`,
  );
});
