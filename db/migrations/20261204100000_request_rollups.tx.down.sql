DROP TABLE request_rollups;
