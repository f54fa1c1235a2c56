/**
 * The pipeline's privacy stage: credential removal and secret scrubbing (always), then obfuscation and redaction (as
 * configured).
 */
import type { Attributes, GenAiSpan } from '../../span/gen-ai-span';
import { CommandAttributeScrubber } from './command-line';
import { privacyConfigSchema, type PrivacyConfigInput, type PrivacyConfig } from './config';
import { Obfuscator } from './obfuscate';
import { dropCredentialAttributes, Redactor } from './redact';
import { scrubSecretAttributes, scrubSecrets } from './secrets';

/** Scrubbed by the command-line scrubber, once per distinct command line, not again per span. */
const COMMAND_ATTRIBUTES: ReadonlySet<string> = new Set(['process.command_line', 'process.command_args']);

export class PrivacyStage {
  private readonly obfuscator: Obfuscator;
  private readonly redactor?: Redactor;
  private readonly commandLines: CommandAttributeScrubber;

  constructor(config: PrivacyConfigInput | PrivacyConfig = {}) {
    const parsed = privacyConfigSchema.parse(config);
    this.obfuscator = new Obfuscator(parsed.obfuscation);
    if (parsed.redaction.enabled) this.redactor = new Redactor(parsed.redaction.patterns, parsed.redaction.marker);
    // A request body on a command line (`curl -d '{"messages":...}'`) is the prompt itself.
    this.commandLines = new CommandAttributeScrubber({ hideRequestBodies: parsed.obfuscation.requestPrompts, bodyMarker: parsed.obfuscation.marker });
  }

  /** A copy of the span with its attributes made safe to store; the input span is not modified. */
  apply(span: GenAiSpan): GenAiSpan {
    // Obfuscation runs before redaction so redaction never has to look inside content that is hidden anyway.
    let attributes = scrubSecretAttributes(this.obfuscator.obfuscate(this.dropCredentials(span.attributes)), COMMAND_ATTRIBUTES);
    if (this.redactor) attributes = this.redactor.redactAttributes(attributes);
    // Apps instrumented with OpenTelemetry send process.command_line / process.command_args as resource attributes.
    let resource = scrubSecretAttributes(this.dropCredentials(span.resource), COMMAND_ATTRIBUTES);
    if (this.redactor) resource = this.redactor.redactResourceAttributes(resource);
    let status = span.status;
    if (status.message !== undefined) {
      let message = scrubSecrets(status.message);
      if (this.redactor) message = this.redactor.redactText(message);
      if (message !== status.message) status = { ...status, message };
    }
    // Spans received over OTLP that are not LLM calls may be named after a URL.
    return { ...span, name: scrubSecrets(span.name), attributes, resource, status };
  }

  private dropCredentials(attributes: Attributes): Attributes {
    return this.commandLines.scrub(dropCredentialAttributes(attributes));
  }
}
