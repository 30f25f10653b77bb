// Constraints and indexes, created on connect (idempotent). One statement per `;`-terminated block.
CREATE CONSTRAINT taxpayer_tax_id IF NOT EXISTS FOR (t:Taxpayer) REQUIRE t.tax_id IS UNIQUE;
CREATE CONSTRAINT invoice_key IF NOT EXISTS FOR (i:Invoice) REQUIRE i.key IS UNIQUE;
CREATE CONSTRAINT identifier_kind_value IF NOT EXISTS FOR (x:Identifier) REQUIRE (x.kind, x.value) IS UNIQUE;
CREATE CONSTRAINT ring_id IF NOT EXISTS FOR (r:Ring) REQUIRE r.id IS UNIQUE;
CREATE CONSTRAINT run_id IF NOT EXISTS FOR (r:Run) REQUIRE r.run_id IS UNIQUE;
CREATE CONSTRAINT record_uid IF NOT EXISTS FOR (r:Record) REQUIRE r.uid IS UNIQUE;
CREATE CONSTRAINT audit_seq IF NOT EXISTS FOR (a:AuditEvent) REQUIRE a.seq IS UNIQUE;
CREATE CONSTRAINT fapiao_meta_key IF NOT EXISTS FOR (m:FapiaoMeta) REQUIRE m.key IS UNIQUE;
CREATE INDEX invoice_ts IF NOT EXISTS FOR (i:Invoice) ON (i.ts);
CREATE INDEX invoice_number IF NOT EXISTS FOR (i:Invoice) ON (i.number);
CREATE INDEX invoice_red_ref IF NOT EXISTS FOR (i:Invoice) ON (i.red_ref);
CREATE INDEX ring_run IF NOT EXISTS FOR (r:Ring) ON (r.run_id);
CREATE INDEX score_run IF NOT EXISTS FOR (s:Score) ON (s.run_id);
CREATE INDEX record_kind IF NOT EXISTS FOR (r:Record) ON (r.kind);
CREATE RANGE INDEX taxpayer_name IF NOT EXISTS FOR (t:Taxpayer) ON (t.name);
CREATE TEXT INDEX taxpayer_name_text IF NOT EXISTS FOR (t:Taxpayer) ON (t.name);
CREATE FULLTEXT INDEX taxpayer_name_fulltext IF NOT EXISTS FOR (t:Taxpayer) ON EACH [t.name] OPTIONS {indexConfig: {`fulltext.analyzer`: 'cjk'}};
