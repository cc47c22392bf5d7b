/** The formats `secretrun export --format` writes (./write.ts); the command table lists them as the option's choices. */
export const EXPORT_FORMATS = ['dotenv', 'json', 'yaml', 'shell'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
