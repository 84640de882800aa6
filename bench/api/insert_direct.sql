SELECT nextval('bench.slot') AS n \gset
INSERT INTO reflexo.appointments (calendar_id, title, contact_id, starts_at, ends_at)
VALUES (1 + :n % 10, 'Nueva', 'contact', bench.slot_start(:n), bench.slot_start(:n) + interval '30 minutes');
