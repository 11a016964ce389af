-- Question: did last nights' pipeline runs publish everything, and what was held back?
-- Who asks: the data platform on-call each morning, before anyone reads a dashboard.
-- How to read: one row per nightly run (run_id, started_at). tables_published / tables_quarantined /
--   tables_failed count table partitions (table_name, dt) by status; rows_published the rows made visible;
--   quarantined lists the held-back partitions as table@dt with the expectations they failed. A healthy night
--   has quarantined = '' and tables_failed = 0. Quarantined partitions stay invisible until released.
SELECT
    run_id,
    min(started_at) AS started_at,
    max(finished_at) AS finished_at,
    count_if(status = 'published') AS tables_published,
    count_if(status = 'quarantined') AS tables_quarantined,
    count_if(status = 'failed') AS tables_failed,
    sum(CASE WHEN status = 'published' THEN "rows" ELSE 0 END) AS rows_published,
    coalesce(array_join(array_sort(array_agg(
        CASE WHEN status <> 'published'
             THEN table_name || '@' || dt || ' (' || array_join(failed_expectations, ', ') || ')' END)), '; '), '')
        AS quarantined
FROM pipeline_runs
GROUP BY run_id
ORDER BY started_at
