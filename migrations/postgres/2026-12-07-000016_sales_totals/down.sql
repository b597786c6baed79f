DROP TABLE sales_totals;
