import type * as z from 'zod/mini';
import type { ChannelMessage, Deps } from '../deps';
import { decodeBase64Payload, usableTransId } from '../protocol/payload';
import { describeIssue } from '../protocol/schemas';
import { Status } from '../protocol/status';
import { isRespondingChannel, parseClientTopic, type ClientChannel } from '../protocol/topics';
import { respond } from './outbound';

export interface Inbound<T> {
  clientId: string;
  body: T;
}

/**
 * The common front of every channel handler: checks the topic, drops spoofed messages (the
 * cloud broker tells us who really published), decodes and validates the payload, and answers
 * 400 on the channel's response topic when the message is unusable. Returns null when the
 * handler has nothing more to do.
 */
export async function receive<S extends z.ZodMiniType>(
  channel: ClientChannel,
  schema: S | null,
  message: ChannelMessage,
  deps: Deps,
): Promise<Inbound<z.infer<S>> | null> {
  const clientId = identify(channel, message, deps);
  if (clientId === null) return null;
  if (schema === null) return { clientId, body: undefined as z.infer<S> };
  const decoded = decodeBase64Payload(message.payload);
  let reason: string;
  const raw: unknown = decoded.value;
  if (decoded.ok) {
    const parsed = schema.safeParse(decoded.value);
    if (parsed.success) return { clientId, body: parsed.data };
    reason = describeIssue(parsed.error);
  } else {
    reason = decoded.reason;
  }
  deps.log.warn({ channel, clientId, reason }, 'rejected message');
  if (isRespondingChannel(channel)) await respond(deps, channel, clientId, usableTransId(raw), Status.BadRequest);
  return null;
}

/**
 * A will that names no MQTT client. IoT Core publishes a Will itself, for a client that is gone;
 * what the rule's `clientid()` gives for such a message is not documented (docs/DEPLOY.md, "Last
 * will in the cloud"). When it names no client (empty, or the rules engine's `n/a` for a message
 * that no MQTT client sent), the topic decides: the device policy lets only client <id> publish,
 * or leave a will, on `lwt/<id>`. Another client's id is still a spoof.
 */
const NO_CLIENT = new Set(['', 'n/a']);
const willWithoutClient = (channel: ClientChannel, message: ChannelMessage): boolean =>
  channel === 'lwt' && typeof message.mqttClientId === 'string' && NO_CLIENT.has(message.mqttClientId);

/** The clientId the message speaks for, or null when it must be dropped unanswered. */
export function identify(channel: ClientChannel, message: ChannelMessage, deps: Deps): string | null {
  const topic = typeof message?.topic === 'string' ? parseClientTopic(message.topic) : null;
  if (!topic || topic.channel !== channel) {
    deps.log.warn({ channel, topic: String(message?.topic).slice(0, 200) }, 'dropped message on a foreign topic');
    return null;
  }
  if (message.mqttClientId !== undefined && message.mqttClientId !== topic.clientId && !willWithoutClient(channel, message)) {
    deps.log.warn(
      { channel, clientId: topic.clientId, mqttClientId: String(message.mqttClientId).slice(0, 200) },
      'dropped spoofed message: publisher is not the topic clientId',
    );
    return null;
  }
  return topic.clientId;
}
