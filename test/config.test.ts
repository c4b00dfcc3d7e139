import { loadConfig } from '../src/config';
import { FactoryError } from '../src/shared/errors';

describe('loadConfig', () => {
  it('reports every invalid setting at once, by name', () => {
    let thrown: unknown;
    try {
      loadConfig({ TASK_HUB_NAME: '1bad', ARM_ENDPOINT: 'not a url' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FactoryError);
    const message = (thrown as FactoryError).message;
    expect(message).toContain('TASK_HUB_NAME');
    expect(message).toContain('ARM_ENDPOINT');
  });

  it('applies defaults', () => {
    const config = loadConfig({ TASK_HUB_NAME: 'ImageFactory' });
    expect(config.ARM_ENDPOINT).toBe('https://management.azure.com');
    expect(config.APPROVAL_REQUESTS_QUEUE).toBe('approval-requests');
  });
});
