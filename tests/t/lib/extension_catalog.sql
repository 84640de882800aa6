-- Everything the reflexo extension puts in a database, one line per fact,
-- in a stable order: two databases print the same lines exactly when their
-- extension objects are identical.  pg_dump cannot serve here: it prints an
-- extension's member objects as a single CREATE EXTENSION.
--
-- Covered: the extension's member list; schemas; tables, views, sequences
-- and their columns, defaults, privileges, row-level security and comments;
-- indexes; constraints; triggers; rules; policies; functions (whole
-- definitions); types, enums, domains; operators; casts; sequences'
-- parameters; extension configuration tables.  Privileges are sorted so that
-- grant order does not matter; OIDs never appear.
WITH ext AS (
  SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'reflexo'
), schemas AS (
  SELECT n.oid, n.nspname FROM pg_catalog.pg_namespace n WHERE n.nspname IN ('reflexo', 'api')
), facts(kind, line) AS (
  SELECT 'member', pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
    FROM pg_catalog.pg_depend d, ext
   WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.refobjid = ext.oid
     AND d.deptype = 'e'
  UNION ALL
  SELECT 'schema', pg_catalog.format('%s owner=%s acl=%s comment=%s', s.nspname,
           pg_catalog.pg_get_userbyid(n.nspowner),
           (SELECT pg_catalog.string_agg(a::pg_catalog.text, ',' ORDER BY a::pg_catalog.text)
              FROM pg_catalog.unnest(n.nspacl) a),
           pg_catalog.obj_description(n.oid, 'pg_namespace'))
    FROM schemas s JOIN pg_catalog.pg_namespace n ON n.oid = s.oid
  UNION ALL
  SELECT 'relation', pg_catalog.format('%s.%s kind=%s persistence=%s rls=%s force_rls=%s options=%s owner=%s acl=%s comment=%s',
           s.nspname, c.relname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
           c.reloptions, pg_catalog.pg_get_userbyid(c.relowner),
           (SELECT pg_catalog.string_agg(a::pg_catalog.text, ',' ORDER BY a::pg_catalog.text)
              FROM pg_catalog.unnest(c.relacl) a),
           pg_catalog.obj_description(c.oid, 'pg_class'))
    FROM pg_catalog.pg_class c JOIN schemas s ON s.oid = c.relnamespace
  UNION ALL
  SELECT 'view', pg_catalog.format('%s.%s %s', s.nspname, c.relname, pg_catalog.pg_get_viewdef(c.oid))
    FROM pg_catalog.pg_class c JOIN schemas s ON s.oid = c.relnamespace
   WHERE c.relkind IN ('v', 'm')
  UNION ALL
  -- columns by position among the live ones: an upgrade must not reorder them
  SELECT 'column', pg_catalog.format('%s.%s #%s %s %s notnull=%s identity=%s generated=%s default=%s collation=%s acl=%s comment=%s',
           s.nspname, c.relname,
           pg_catalog.row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
           a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
           a.attgenerated, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid),
           CASE WHEN a.attcollation <> 0 THEN a.attcollation::pg_catalog.regcollation::pg_catalog.text END,
           (SELECT pg_catalog.string_agg(x::pg_catalog.text, ',' ORDER BY x::pg_catalog.text)
              FROM pg_catalog.unnest(a.attacl) x),
           pg_catalog.col_description(c.oid, a.attnum))
    FROM pg_catalog.pg_class c JOIN schemas s ON s.oid = c.relnamespace
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'c', 'f')
  UNION ALL
  SELECT 'index', pg_catalog.pg_get_indexdef(i.indexrelid)
    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
    JOIN schemas s ON s.oid = c.relnamespace
  UNION ALL
  SELECT 'constraint', pg_catalog.format('%s %s %s deferrable=%s deferred=%s validated=%s comment=%s',
           COALESCE(co.conrelid::pg_catalog.regclass::pg_catalog.text, co.contypid::pg_catalog.regtype::pg_catalog.text),
           co.conname, pg_catalog.pg_get_constraintdef(co.oid), co.condeferrable, co.condeferred,
           co.convalidated, pg_catalog.obj_description(co.oid, 'pg_constraint'))
    FROM pg_catalog.pg_constraint co JOIN schemas s ON s.oid = co.connamespace
  UNION ALL
  SELECT 'trigger', pg_catalog.format('%s enabled=%s comment=%s', pg_catalog.pg_get_triggerdef(t.oid),
           t.tgenabled, pg_catalog.obj_description(t.oid, 'pg_trigger'))
    FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
    JOIN schemas s ON s.oid = c.relnamespace
   WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'rule', pg_catalog.pg_get_ruledef(r.oid)
    FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
    JOIN schemas s ON s.oid = c.relnamespace
   WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'policy', pg_catalog.format('%s on %s.%s cmd=%s permissive=%s roles=%s using=%s check=%s comment=%s',
           p.polname, s.nspname, c.relname, p.polcmd, p.polpermissive,
           (SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r) END, ','
                                         ORDER BY 1)
              FROM pg_catalog.unnest(p.polroles) r),
           pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
           pg_catalog.obj_description(p.oid, 'pg_policy'))
    FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
    JOIN schemas s ON s.oid = c.relnamespace
  UNION ALL
  SELECT 'function', pg_catalog.format('%s owner=%s acl=%s comment=%s %s',
           p.oid::pg_catalog.regprocedure, pg_catalog.pg_get_userbyid(p.proowner),
           (SELECT pg_catalog.string_agg(a::pg_catalog.text, ',' ORDER BY a::pg_catalog.text)
              FROM pg_catalog.unnest(p.proacl) a),
           pg_catalog.obj_description(p.oid, 'pg_proc'),
           CASE WHEN p.prokind = 'a' THEN 'aggregate' ELSE pg_catalog.pg_get_functiondef(p.oid) END)
    FROM pg_catalog.pg_proc p JOIN schemas s ON s.oid = p.pronamespace
  UNION ALL
  SELECT 'type', pg_catalog.format('%s type=%s len=%s align=%s storage=%s in=%s out=%s recv=%s send=%s base=%s notnull=%s default=%s labels=%s owner=%s acl=%s comment=%s',
           t.oid::pg_catalog.regtype, t.typtype, t.typlen, t.typalign, t.typstorage, t.typinput, t.typoutput,
           t.typreceive, t.typsend,
           CASE WHEN t.typbasetype <> 0 THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
           t.typnotnull, t.typdefault,
           (SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
              FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid),
           pg_catalog.pg_get_userbyid(t.typowner),
           (SELECT pg_catalog.string_agg(a::pg_catalog.text, ',' ORDER BY a::pg_catalog.text)
              FROM pg_catalog.unnest(t.typacl) a),
           pg_catalog.obj_description(t.oid, 'pg_type'))
    FROM pg_catalog.pg_type t JOIN schemas s ON s.oid = t.typnamespace
   WHERE t.typtype <> 'c' OR EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')
  UNION ALL
  SELECT 'operator', pg_catalog.format('%s code=%s commutator=%s negator=%s restrict=%s join=%s comment=%s',
           o.oid::pg_catalog.regoperator, o.oprcode, o.oprcom::pg_catalog.regoperator,
           o.oprnegate::pg_catalog.regoperator, o.oprrest, o.oprjoin, pg_catalog.obj_description(o.oid, 'pg_operator'))
    FROM pg_catalog.pg_operator o JOIN schemas s ON s.oid = o.oprnamespace
  UNION ALL
  SELECT 'cast', pg_catalog.format('%s -> %s func=%s context=%s method=%s comment=%s',
           ca.castsource::pg_catalog.regtype, ca.casttarget::pg_catalog.regtype,
           CASE WHEN ca.castfunc <> 0 THEN ca.castfunc::pg_catalog.regprocedure::pg_catalog.text END,
           ca.castcontext, ca.castmethod, pg_catalog.obj_description(ca.oid, 'pg_cast'))
    FROM pg_catalog.pg_cast ca, ext
   WHERE EXISTS (SELECT FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass AND d.objid = ca.oid
                    AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.refobjid = ext.oid)
  UNION ALL
  SELECT 'sequence', pg_catalog.format('%s type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s',
           sq.seqrelid::pg_catalog.regclass, sq.seqtypid::pg_catalog.regtype, sq.seqstart, sq.seqincrement,
           sq.seqmin, sq.seqmax, sq.seqcache, sq.seqcycle)
    FROM pg_catalog.pg_sequence sq JOIN pg_catalog.pg_class c ON c.oid = sq.seqrelid
    JOIN schemas s ON s.oid = c.relnamespace
  UNION ALL
  SELECT 'config', pg_catalog.format('%s where=%s', cfg.rel, cfg.cond)
    FROM pg_catalog.pg_extension e,
         LATERAL ROWS FROM (pg_catalog.unnest(e.extconfig::pg_catalog.regclass[]),
                            pg_catalog.unnest(e.extcondition)) AS cfg(rel, cond)
   WHERE e.extname = 'reflexo'
)
SELECT kind || ': ' || COALESCE(line, '<null>') FROM facts ORDER BY kind, line;
