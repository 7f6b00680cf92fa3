-- bgjobs.enqueue_alert(template, payload, dedupe_key): queues an operational alert in the
-- outbox for the ops channels: Slack (when SLACK_WEBHOOK_URL is set) and email to
-- alert_email_to (when set).  One row per channel; dedupe_key makes a repeat a no-op.
-- Returns the number of rows queued.  Runs with its caller's rights (bgjobs_runner, or the
-- failure trigger's owner).
CREATE OR REPLACE FUNCTION bgjobs.enqueue_alert(p_template text, p_payload jsonb, p_dedupe_key text)
RETURNS integer
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_n integer := 0;
  v_rows integer;
  v_email text := bgjobs.get_setting('alert_email_to');
BEGIN
  IF bgjobs.secret_is_set('SLACK_WEBHOOK_URL') THEN
    INSERT INTO public.notifications (channel, recipient, template, payload, dedupe_key, category)
    VALUES ('slack', NULL, p_template, p_payload, p_dedupe_key || ':slack', 'alert')
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;
  END IF;
  IF v_email IS NOT NULL THEN
    INSERT INTO public.notifications (channel, recipient, template, payload, dedupe_key, category)
    SELECT 'email', trim(addr), p_template, p_payload, p_dedupe_key || ':email:' || trim(addr), 'alert'
      FROM unnest(string_to_array(v_email, ',')) AS addr
     WHERE trim(addr) <> ''
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    v_n := v_n + v_rows;
  END IF;
  RETURN v_n;
END;
$$;
COMMENT ON FUNCTION bgjobs.enqueue_alert(text, jsonb, text) IS
  'Queues an operational alert for Slack and alert_email_to; idempotent per dedupe_key.';
REVOKE ALL ON FUNCTION bgjobs.enqueue_alert(text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.enqueue_alert(text, jsonb, text) TO bgjobs_runner;
