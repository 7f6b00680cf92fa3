-- Recurring maintenance windows are read by the schedule math's own parser
-- (bgjobs.cron_parse), not a second one.  The old parser took 'n/step' in a day, month or
-- weekday field as 'n-last/step'; pg_cron and cron_parse refuse that form, so a window
-- stored with it is rewritten here to the range it meant (day 31, month 12, weekday 6).
-- Nothing else the old parser took reads differently.
-- depends: 0015.sla_feed

UPDATE bgjobs.maintenance_windows w
   SET recurrence = array_to_string(ARRAY[
         f[1], f[2],
         regexp_replace(f[3], '(^|,)([0-9a-z]+)/', '\1\2-31/', 'gi'),
         regexp_replace(f[4], '(^|,)([0-9a-z]+)/', '\1\2-12/', 'gi'),
         regexp_replace(f[5], '(^|,)([0-9a-z]+)/', '\1\2-6/', 'gi')], ' ')
  FROM (SELECT id, regexp_split_to_array(btrim(recurrence), '\s+') AS f
          FROM bgjobs.maintenance_windows WHERE recurrence IS NOT NULL) r
 WHERE r.id = w.id AND cardinality(r.f) = 5
   AND (r.f[3] || ' ' || r.f[4] || ' ' || r.f[5]) ~* '(^|[ ,])[0-9a-z]+/';
