-- bgjobs.execute_run(run_id, job, as_of, tenants, mark_tenants): runs the job body of an
-- opened run and closes it.  The body (named in the registry: f(), f(as_of timestamptz)
-- or f(as_of timestamptz, tenants uuid[]), returning jsonb, an integer taken as
-- {"recordsUpdated": n}, or void taken as {}) runs in a subtransaction: if it raises (or is cancelled
-- for exceeding its timeout) its work is rolled back and the run is recorded failed; this
-- function itself does not raise.  Every run then gets its jobs_log row closed (a run that
-- bgjobs.begin_run opened without a row, run_job's, gets its one row written here, as a
-- 'manual' run), one audit_log 'background_job_execution' row and a heartbeat; a failed
-- run notifies (jobs_log trigger).  Returns the seeds' standard response.
-- A body that does not exist is reported as "not implemented yet": looked up only when
-- calling it failed with undefined_function, not before every call.
-- Runs with its caller's rights: bgjobs_runner's (pg_cron's user, and run_job()'s owner),
-- so a job body never runs with more than bgjobs_runner holds.
CREATE OR REPLACE FUNCTION bgjobs.execute_run(
  p_run_id uuid, p_job_name text, p_as_of timestamptz,
  p_tenants uuid[] DEFAULT NULL, p_mark_tenants boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_job      bgjobs.job_registry%ROWTYPE;
  v_started  timestamptz := clock_timestamp();
  v_results  jsonb;
  v_status   text;
  v_err      text;
  v_detail   text;
  v_hint     text;
  v_context  text;
  v_state    text;
  v_ms       integer;
  v_records  integer := 0;
  v_response jsonb;
  v_sig      text;
  v_call     text;
BEGIN
  SELECT * INTO v_job FROM bgjobs.job_registry WHERE job_name = p_job_name;

  BEGIN
    v_call := format('%I.%I(%s)', v_job.function_schema, v_job.function_name,
                     (ARRAY['', '$1', '$1, $2'])[v_job.body_args + 1]);
    EXECUTE CASE v_job.body_returns
              WHEN 'jsonb' THEN 'SELECT ' || v_call
              WHEN 'integer' THEN 'SELECT pg_catalog.jsonb_build_object(''recordsUpdated'', ' || v_call || ')'
              ELSE 'SELECT ''{}''::jsonb FROM (SELECT ' || v_call || ' OFFSET 0) s'
            END
       INTO v_results USING p_as_of, p_tenants;
    v_results := coalesce(v_results, '{}'::jsonb);
    IF p_mark_tenants AND p_tenants IS NOT NULL THEN
      INSERT INTO bgjobs.tenant_job_runs (job_name, tenant_id, local_date, run_id)
      SELECT p_job_name, t.id, (p_as_of AT TIME ZONE t.timezone)::date, p_run_id
        FROM public.tenants t
       WHERE t.id = ANY (p_tenants)
      ON CONFLICT DO NOTHING;
    END IF;
    v_status := 'success';
  EXCEPTION WHEN query_canceled OR OTHERS THEN
    GET STACKED DIAGNOSTICS v_err = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                            v_hint = PG_EXCEPTION_HINT, v_context = PG_EXCEPTION_CONTEXT,
                            v_state = RETURNED_SQLSTATE;
    v_status := 'failed';
    v_results := NULL;
    IF v_state = '42883' THEN                       -- undefined_function: the body itself?
      v_sig := (ARRAY['', 'timestamptz', 'timestamptz, uuid[]'])[v_job.body_args + 1];
      IF to_regprocedure(format('%I.%I(%s)', v_job.function_schema, v_job.function_name, v_sig)) IS NULL THEN
        v_err := format('job "%s" is not implemented yet', p_job_name);
        v_detail := format('function %I.%I(%s) does not exist', v_job.function_schema, v_job.function_name, v_sig);
        v_hint := NULL;
      END IF;
    END IF;
    IF clock_timestamp() - v_started >= v_job.timeout THEN
      v_err := format('cancelled: exceeded its timeout of %s (%s)', v_job.timeout, v_err);
    END IF;
  END;

  v_ms := round(extract(epoch FROM clock_timestamp() - v_started) * 1000)::integer;
  IF jsonb_typeof(v_results -> 'recordsUpdated') = 'number' THEN
    v_records := (v_results ->> 'recordsUpdated')::numeric::integer;
  END IF;

  UPDATE public.jobs_log
     SET status = v_status,
         completed_at = clock_timestamp(),
         records_updated = v_records,
         error_message = v_err,
         error_details = nullif(concat_ws(E'\n', v_detail, v_hint, v_context), ''),
         results = v_results
   WHERE id = p_run_id;
  IF NOT FOUND THEN                                 -- opened by run_job: no row yet
    INSERT INTO public.jobs_log (id, job_name, started_at, completed_at, status, as_of, trigger, pid,
                                 records_updated, error_message, error_details, results)
    VALUES (p_run_id, p_job_name, v_started, clock_timestamp(), v_status, p_as_of, 'manual', pg_backend_pid(),
            v_records, v_err, nullif(concat_ws(E'\n', v_detail, v_hint, v_context), ''), v_results);
  END IF;

  INSERT INTO public.audit_log (action_type, entity_type, entity_id, details)
  VALUES ('background_job_execution', 'background_job', p_run_id,
          coalesce(v_results, '{}'::jsonb)
          || jsonb_build_object('job_name', p_job_name, 'status', v_status,
                                'execution_time_ms', v_ms, 'records_updated', v_records,
                                'run_id', p_run_id, 'as_of', p_as_of)
          || CASE WHEN v_err IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', v_err) END);

  PERFORM public.update_job_heartbeat(
    p_job_name,
    CASE v_status WHEN 'success' THEN 'healthy' ELSE 'failed' END,
    jsonb_build_object('run_id', p_run_id, 'last_status', v_status, 'records_updated', v_records,
                       'execution_time_ms', v_ms, 'as_of', p_as_of));

  v_response := jsonb_build_object(
    'success', v_status = 'success',
    'job', p_job_name,
    'executedAt', to_char(v_started AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'asOf', to_char(p_as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'runId', p_run_id,
    'executionTime', trim_scale(round(v_ms / 1000.0, 3))::text || 's');
  IF v_status = 'success' THEN
    v_response := v_response || jsonb_build_object('results', v_results);
  ELSE
    v_response := v_response || jsonb_build_object('error', v_err, 'errorDetails',
                                                   coalesce(nullif(v_detail, ''), v_context));
  END IF;
  RETURN v_response;
END;
$$;
COMMENT ON FUNCTION bgjobs.execute_run(uuid, text, timestamptz, uuid[], boolean) IS
  'Runs an opened run''s job body (rolled back on error) and records it: jobs_log, audit_log, heartbeat. Internal.';
REVOKE ALL ON FUNCTION bgjobs.execute_run(uuid, text, timestamptz, uuid[], boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.execute_run(uuid, text, timestamptz, uuid[], boolean) TO bgjobs_runner;
