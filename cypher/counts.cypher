// Entity counts (served from the count store).
CALL () { MATCH (t:Taxpayer) RETURN count(t) AS taxpayers }
CALL () { MATCH (i:Invoice) RETURN count(i) AS invoices }
CALL () { MATCH ()-[h:HAS]->() RETURN count(h) AS identifiers }
CALL () { MATCH (r:Run) RETURN count(r) AS runs }
CALL () { MATCH (g:Ring) RETURN count(g) AS rings }
RETURN taxpayers, invoices, identifiers, runs, rings
