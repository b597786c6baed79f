DROP TABLE google_callback_nonces;
DROP TABLE google_notifications;
DROP TABLE google_objects;
DROP TABLE google_classes;
