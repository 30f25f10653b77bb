// The whole-period issuer→buyer edge table straight from the TRADES aggregates, as parallel columns.
MATCH (s:Taxpayer)-[t:TRADES]->(b:Taxpayer)
RETURN collect(s.tax_id) AS sellers, collect(b.tax_id) AS buyers, collect(t.count) AS counts,
       collect(t.total_fen) AS totals, collect(t.first_ts) AS firsts, collect(t.last_ts) AS lasts
