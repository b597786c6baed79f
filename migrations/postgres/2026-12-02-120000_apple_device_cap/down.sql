ALTER TABLE cards DROP COLUMN apple_devices;
