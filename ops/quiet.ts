/**
 * Imported first by the CLI, before any module that builds the backend's logger: its JSON lines would
 * otherwise land on stdout, between the CLI's own output. The CLI hands the shared code a log of its
 * own instead (on stderr with --verbose). Local runs use Node 20; the SDK's notice about that is noise.
 */
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
