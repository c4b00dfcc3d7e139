import { z } from 'zod';

/** Settings the Azure adapters read (endpoints, credentials). Owned by src/adapters. */
export const azureSettingsSchema = z.object({
  ARM_ENDPOINT: z.url().default('https://management.azure.com'),
  AZURE_AUTHORITY_HOST: z.url().default('https://login.microsoftonline.com'),
});
