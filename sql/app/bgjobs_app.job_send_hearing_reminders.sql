-- bgjobs_app.job_send_hearing_reminders(as_of, tenants): body of send-hearing-reminders (08:00
-- in each tenant's zone).  For each tenant (NULL: all), the hearings with status
-- 'Scheduled' on its local date of as_of or the next one (local midnight to local midnight,
-- DST-correct) are reminded: one email to the case owner and one to the assigned advocate
-- (one only when they are the same user; inactive users and users without an address get
-- none), and a WhatsApp message to each of them who has a phone when the tenant has
-- whatsapp_enabled.  Messages go to the notifications outbox (template hearing_reminder:
-- subject "Hearing Reminder: <case number> - <court name>", body with the case, court,
-- date and time in the tenant's zone and the preparation checklist); the dedupe_key
-- hearing + channel + recipient + local date makes a second run the same day a no-op.
-- No cap: every due hearing is reminded.
-- Results: hearingsFound, emailsQueued, whatsappQueued, recordsUpdated (messages queued).
CREATE OR REPLACE FUNCTION bgjobs_app.job_send_hearing_reminders(p_as_of timestamptz, p_tenants uuid[])
RETURNS jsonb
LANGUAGE plpgsql
SET search_path TO pg_catalog, pg_temp
AS $$
DECLARE
  v_hearings integer;
  v_email    integer;
  v_whatsapp integer;
BEGIN
  WITH scope AS (
    -- whatsapp_enabled (tenants) and is_active, phone (users): columns the seeds have and
    -- the contract does not require (without them: no WhatsApp, every user active)
    SELECT t.id AS tenant_id, t.timezone, coalesce((to_jsonb(t) ->> 'whatsapp_enabled')::boolean, false) AS whatsapp_enabled,
           (p_as_of AT TIME ZONE t.timezone)::date AS local_date
      FROM public.tenants t
     WHERE p_tenants IS NULL OR t.id = ANY (p_tenants)
  ),
  due AS (
    SELECT s.tenant_id, s.timezone, s.whatsapp_enabled, s.local_date,
           h.id AS hearing_id, h.hearing_date, c.id AS case_id, c.case_number, c.title AS case_title,
           c.owner_id, c.assigned_to,
           coalesce(co.name, 'court to be confirmed') AS court_name, co.city AS court_city
      FROM scope s
      JOIN public.hearings h
        ON h.tenant_id = s.tenant_id AND h.status = 'Scheduled'
       AND h.hearing_date >= (s.local_date::timestamp AT TIME ZONE s.timezone)
       AND h.hearing_date < ((s.local_date + 2)::timestamp AT TIME ZONE s.timezone)
      JOIN public.cases c ON c.tenant_id = h.tenant_id AND c.id = h.case_id
      LEFT JOIN public.courts co ON co.id = h.court_id
  ),
  recipients AS (
    SELECT DISTINCT ON (d.hearing_id, u.id)
           d.*, r.role, u.id AS user_id, u.email, to_jsonb(u) ->> 'phone' AS phone, u.full_name
      FROM due d
     CROSS JOIN LATERAL (VALUES ('owner', d.owner_id), ('advocate', d.assigned_to)) AS r(role, user_id)
      JOIN public.users u ON u.tenant_id = d.tenant_id AND u.id = r.user_id
                         AND coalesce((to_jsonb(u) ->> 'is_active')::boolean, true)
     ORDER BY d.hearing_id, u.id, r.role DESC
  ),
  messages AS (
    SELECT r.*, m.channel, m.recipient
      FROM recipients r
     CROSS JOIN LATERAL (VALUES ('email', nullif(btrim(r.email), '')),
                                ('whatsapp', CASE WHEN r.whatsapp_enabled THEN nullif(btrim(r.phone), '') END))
           AS m(channel, recipient)
     WHERE m.recipient IS NOT NULL
  ),
  queued AS (
    INSERT INTO public.notifications (tenant_id, channel, recipient, template, payload, dedupe_key, category)
    SELECT m.tenant_id, m.channel, m.recipient, 'hearing_reminder',
           jsonb_build_object(
             'case_number', m.case_number, 'case_title', m.case_title,
             'court_name', m.court_name, 'court_city', m.court_city,
             'hearing_at', to_char(m.hearing_date AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
             'tenant_timezone', m.timezone, 'recipient_name', m.full_name, 'recipient_role', m.role,
             'hearing_id', m.hearing_id, 'case_id', m.case_id, 'user_id', m.user_id,
             'reminder_date', m.local_date,
             'day', CASE WHEN (m.hearing_date AT TIME ZONE m.timezone)::date = m.local_date
                         THEN 'today' ELSE 'tomorrow' END),
           format('hearing_reminder:%s:%s:%s:%s', m.hearing_id, m.channel, lower(m.recipient), m.local_date),
           'business'
      FROM messages m
    ON CONFLICT ON CONSTRAINT notifications_dedupe_key_key DO NOTHING
    RETURNING channel
  )
  SELECT (SELECT count(*) FROM due),
         count(*) FILTER (WHERE q.channel = 'email'),
         count(*) FILTER (WHERE q.channel = 'whatsapp')
    INTO v_hearings, v_email, v_whatsapp
    FROM queued q;

  RETURN jsonb_build_object(
    'hearingsFound', v_hearings,
    'emailsQueued', v_email,
    'whatsappQueued', v_whatsapp,
    'recordsUpdated', v_email + v_whatsapp);
END;
$$;
COMMENT ON FUNCTION bgjobs_app.job_send_hearing_reminders(timestamptz, uuid[]) IS
  'send-hearing-reminders: queues reminders of today''s and tomorrow''s scheduled hearings (tenant dates) to case owners and advocates.';
REVOKE ALL ON FUNCTION bgjobs_app.job_send_hearing_reminders(timestamptz, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs_app.job_send_hearing_reminders(timestamptz, uuid[]) TO bgjobs_runner;
