SELECT nextval('bench.slot') AS n \gset
BEGIN;
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 0 * interval '1 day',
        bench.series_start(:n) + 0 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 1 * interval '1 day',
        bench.series_start(:n) + 1 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 2 * interval '1 day',
        bench.series_start(:n) + 2 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 3 * interval '1 day',
        bench.series_start(:n) + 3 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 4 * interval '1 day',
        bench.series_start(:n) + 4 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 7 * interval '1 day',
        bench.series_start(:n) + 7 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 8 * interval '1 day',
        bench.series_start(:n) + 8 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 9 * interval '1 day',
        bench.series_start(:n) + 9 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 10 * interval '1 day',
        bench.series_start(:n) + 10 * interval '1 day' + interval '45 minutes');
INSERT INTO reflexo.appointments (calendar_id, assigned_user_id, contact_id, title, starts_at, ends_at)
VALUES (1 + :n % 200, 'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie', bench.series_start(:n) + 11 * interval '1 day',
        bench.series_start(:n) + 11 * interval '1 day' + interval '45 minutes');
COMMIT;
