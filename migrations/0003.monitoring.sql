-- bgjobs monitoring: alert state per (subject, rule), silences, and the index the
-- detection rules read jobs_log by.  job_heartbeats stays exactly the runbook's (0001):
-- its last_alert_at is the stale-heartbeat rule's anti-spam clock, as the runbook says.
-- Functions and views live under sql/monitoring and sql/views (re-applied on install).
-- depends: 0002.business_tables

-- One row per (subject, rule) ever evaluated bad.  subject is a job name, 'system' for the
-- system-wide rules, or 'automation-rule:<tenant>:<rule>' / 'analytics:<tenant>:<metric>'
-- for the per-rule and per-tenant INFO rules.  An episode runs from entering 'firing'
-- (since) to returning to 'ok' (resolved_at).
CREATE TABLE bgjobs.alert_state (
    subject           text NOT NULL,
    rule              text NOT NULL
                      CHECK (rule IN ('missed_run', 'stale_heartbeat', 'consecutive_failures', 'slow_run',
                                      'no_jobs_24h', 'low_success_rate', 'delivery_rate', 'rule_storm',
                                      'analytics_anomaly')),
    display_name      text NOT NULL,                  -- what messages call the subject
    state             text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing')),
    severity          text NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
    since             timestamptz NOT NULL,           -- as_of at which the current state began
    last_evaluated_at timestamptz NOT NULL,
    last_notified_at  timestamptz,                    -- last alert queued in this episode
    notified_severity text CHECK (notified_severity IN ('INFO', 'WARNING', 'CRITICAL')),
    count             integer NOT NULL DEFAULT 0,     -- alerts queued in this episode
    silenced          boolean NOT NULL DEFAULT false, -- last evaluation found it silenced
    suppressed        integer NOT NULL DEFAULT 0,     -- evaluations held back (window or silence)
    summary           text,
    details           jsonb NOT NULL DEFAULT '{}',
    resolved_at       timestamptz,
    episodes          integer NOT NULL DEFAULT 1,
    PRIMARY KEY (subject, rule)
);
COMMENT ON TABLE bgjobs.alert_state IS
  'Alert state per (job or system subject, rule): one alert on entering firing, repeats after alert_suppression_hours, one resolved notice.';
CREATE INDEX alert_state_firing_idx ON bgjobs.alert_state (rule) WHERE state = 'firing';

-- Silences: a job (or every subject when job_name is NULL) is not alerted on from
-- starts_at until until; an alert held back is sent when the silence ends if still bad.
CREATE TABLE bgjobs.silences (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name   text,                                  -- NULL: all jobs and system rules
    starts_at  timestamptz NOT NULL DEFAULT now(),
    until      timestamptz NOT NULL,
    reason     text NOT NULL CHECK (btrim(reason) <> ''),
    created_by text NOT NULL DEFAULT session_user,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT silences_period_ck CHECK (until > starts_at)
);
COMMENT ON TABLE bgjobs.silences IS 'Alert silences: a job (or all, job_name NULL) until a time, with a reason.';
CREATE INDEX silences_until_idx ON bgjobs.silences (until);

-- The detection rules read each job's recent runs by the moment a run was for
-- (as_of for runs of the runtime, started_at for rows written by hand).
CREATE INDEX jobs_log_job_effective_idx ON public.jobs_log (job_name, (coalesce(as_of, started_at)) DESC)
    WHERE status <> 'skipped';
CREATE INDEX jobs_log_effective_idx ON public.jobs_log ((coalesce(as_of, started_at)));

REVOKE ALL ON bgjobs.alert_state, bgjobs.silences FROM PUBLIC;
GRANT SELECT ON bgjobs.alert_state, bgjobs.silences TO bgjobs_admin;
