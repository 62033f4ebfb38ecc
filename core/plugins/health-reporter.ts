import type { Health, HealthReporter, HealthState } from '../contributions.ts';

/** Keeps one health value and tells a listener about changes. */
export class SimpleHealthReporter implements HealthReporter {
  private health: Health;

  constructor(
    private readonly onChange: (health: Health, previous: Health) => void = () => undefined,
    initial: HealthState = 'down',
    reason = 'not started',
  ) {
    this.health = { state: initial, reason, since: Date.now() };
  }

  up(): void {
    this.set('up');
  }

  degraded(reason: string): void {
    this.set('degraded', reason);
  }

  down(reason: string): void {
    this.set('down', reason);
  }

  current(): Health {
    return { ...this.health };
  }

  private set(state: HealthState, reason?: string): void {
    if (this.health.state === state && this.health.reason === reason) return;
    const previous = this.health;
    this.health = reason === undefined ? { state, since: Date.now() } : { state, reason, since: Date.now() };
    this.onChange(this.current(), previous);
  }
}
