-- bgjobs reliability (issue 8): the scheduler watchdog's alert.  `bgjobs worker` (outside
-- pg_cron) raises rule 'scheduler_down' on subject 'scheduler' through the alert state
-- machine when the pg_cron launcher is gone or bgjobs' own ticks are stale, and resolves it
-- when they are back.
-- depends: 0007.delivery

ALTER TABLE bgjobs.alert_state DROP CONSTRAINT alert_state_rule_check;
ALTER TABLE bgjobs.alert_state ADD CONSTRAINT alert_state_rule_check
    CHECK (rule IN ('missed_run', 'stale_heartbeat', 'consecutive_failures', 'slow_run',
                    'no_jobs_24h', 'low_success_rate', 'delivery_rate', 'rule_storm',
                    'analytics_anomaly', 'scheduler_down'));
