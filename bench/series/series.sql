SELECT nextval('bench.slot') AS n \gset
SELECT reflexo.book_series(1 + :n % 200, bench.series_start(:n), 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;COUNT=10', '45 minutes',
                           'therapist-' || (1 + :n % 200), 'contact-' || :n, 'Serie') ->> 'occurrences';
