/**
 * The pipeline's privacy stage: credential removal and secret scrubbing (always), then obfuscation and redaction (as
 * configured).
 */
import type { Attributes, GenAiSpan } from '../../span/gen-ai-span';
import { CommandAttributeScrubber } from './command-line';
import { privacyConfigSchema, type PrivacyConfigInput, type PrivacyConfig } from './config';
import { Obfuscator } from './obfuscate';
import { dropCredentialAttributes, Redactor } from './redact';
import { scrubSecretAttributes, scrubSecrets, scrubSecretsRemembered } from './secrets';

/** Scrubbed by the command-line scrubber, once per distinct command line, not again per span. */
const COMMAND_ATTRIBUTES: ReadonlySet<string> = new Set(['process.command_line', 'process.command_args']);

export class PrivacyStage {
  private readonly obfuscator: Obfuscator;
  private readonly redactor?: Redactor;
  private readonly commandLines: CommandAttributeScrubber;
  private readonly safeResources = new WeakMap<Attributes, Attributes>();

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
    const resource = this.safeResource(span.resource);
    let status = span.status;
    if (status.message !== undefined) {
      let message = scrubSecrets(status.message);
      if (this.redactor) message = this.redactor.redactText(message);
      if (message !== status.message) status = { ...status, message };
    }
    // Spans received over OTLP that are not LLM calls may be named after a URL.
    return { ...span, name: scrubSecretsRemembered(span.name), attributes, resource, status };
  }

  /**
   * The resource made safe, once per resource object: the enrichment stage gives all spans of a process the same
   * object, and resources are not modified once built, so the answer for an object never changes.
   */
  private safeResource(resource: Attributes): Attributes {
    let safe = this.safeResources.get(resource);
    if (safe === undefined) {
      // Apps instrumented with OpenTelemetry send process.command_line / process.command_args as resource attributes.
      safe = scrubSecretAttributes(this.dropCredentials(resource), COMMAND_ATTRIBUTES);
      if (this.redactor) safe = this.redactor.redactResourceAttributes(safe);
      this.safeResources.set(resource, safe);
    }
    return safe;
  }

  private dropCredentials(attributes: Attributes): Attributes {
    return this.commandLines.scrub(dropCredentialAttributes(attributes));
  }
}
