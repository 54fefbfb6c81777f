import { Metrics as Powertools, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Metrics } from '../../shared/ports';

/**
 * The same figures as the local /metrics (local/prom-metrics.ts), as CloudWatch metrics in
 * embedded metric format (Powertools Metrics). They are buffered during an invocation and
 * written as one log record at its end (`flush`), with the channel as the dimension: one record
 * per message keeps the log cost of a notify to a few hundred bytes. Devices by status and the
 * bridge's backlog have no cloud counterpart: IoT Core and Lambda report their own.
 */
export class EmfMetrics implements Metrics {
  private readonly powertools = new Powertools({ namespace: 'LWMQN', serviceName: 'lwmqn' });

  handled(channel: string, seconds: number, failed: boolean): void {
    this.powertools.addDimension('channel', channel);
    this.powertools.addMetric('HandlerTime', MetricUnit.Milliseconds, seconds * 1000);
    this.powertools.addMetric(failed ? 'HandlerFailed' : 'Handled', MetricUnit.Count, 1);
  }

  answered(_channel: string, status: number): void {
    this.powertools.addMetric(`Answered${status}`, MetricUnit.Count, 1);
  }

  storeCall(operation: string, seconds: number, failed: boolean): void {
    this.powertools.addMetric(`Store${operation}Time`, MetricUnit.Milliseconds, seconds * 1000);
    if (failed) this.powertools.addMetric(`Store${operation}Errors`, MetricUnit.Count, 1);
  }

  commandEnded(command: string, outcome: number | 'timeout', seconds: number): void {
    this.powertools.addMetric(`Command${command}Time`, MetricUnit.Milliseconds, seconds * 1000);
    this.powertools.addMetric(outcome === 'timeout' ? `Command${command}Timeout` : `Command${command}Answered`, MetricUnit.Count, 1);
  }

  /** Writes what this invocation measured (one EMF record) and starts afresh. */
  flush(): void {
    if (this.powertools.hasStoredMetrics()) this.powertools.publishStoredMetrics();
    this.powertools.clearDimensions();
  }
}
