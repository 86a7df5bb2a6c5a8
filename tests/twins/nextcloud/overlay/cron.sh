#!/bin/sh
# nextcloud/docker 34/apache/cron.sh: busybox crond in the foreground, logging to stdout; the image's
# Dockerfile gives www-data the crontab line running cron.php every five minutes.
set -eu
mkdir -p /var/spool/cron/crontabs
echo '*/5 * * * * php -f /var/www/html/cron.php' > /var/spool/cron/crontabs/www-data
exec busybox crond -f -L /dev/stdout
