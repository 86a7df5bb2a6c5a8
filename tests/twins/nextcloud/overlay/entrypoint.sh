#!/bin/sh
# Stand-in for nextcloud/docker 34/apache/entrypoint.sh (commit 1ef15fb3, read 2026-12-05): the same
# start-up contract, written anew and kept to what our template depends on. Each rule names the part
# of that file it reproduces.
set -eu

src=/usr/src/nextcloud
html=/var/www/html

# The image's Dockerfile puts the release's version.php into /usr/src/nextcloud; here the version is
# the tag this image was built for (33.0.7-apache -> 33.0.7.0).
if [ ! -f "$src/version.php" ]; then
    release="$(cut -d- -f1 /etc/provisioner-image-version)"
    printf '<?php\n$OC_Version = array(%s, 0);\n$OC_VersionString = '"'"'%s'"'"';\n' \
        "$(echo "$release" | tr . ,)" "$release" > "$src/version.php"
    mkdir -p "$src/data" "$src/custom_apps" "$src/themes"
fi

# entrypoint.sh: "version_greater A B" sorts numerically field by field.
version_greater() {
    [ "$(printf '%s\n' "$@" | sort -t . -n -k1,1 -k2,2 -k3,3 -k4,4 | head -n 1)" != "$1" ]
}

directory_empty() {
    [ -z "$(ls -A "$1/")" ]
}

as_www_data() {
    su -p www-data -s /bin/sh -c "$1"
}

# entrypoint.sh run_path: executable *.sh files of /docker-entrypoint-hooks.d/<name>, sorted, run as
# www-data; a failing one stops the container.
run_path() {
    folder="/docker-entrypoint-hooks.d/$1"
    [ -d "$folder" ] || return 0
    for script in $(find "$folder" -maxdepth 1 -iname '*.sh' '(' -type f -o -type l ')' | sort); do
        if [ -x "$script" ]; then
            echo "==> Running the script: \"$script\""
            as_www_data "$script" || { echo "==> Failed at executing script \"$script\""; exit 1; }
        fi
    done
}

# entrypoint.sh main: APACHE_DISABLE_REWRITE_IP (any value) turns off mod_remoteip's X-Real-IP rewrite.
if [ "${1#apache}" != "$1" ] && [ -n "${APACHE_DISABLE_REWRITE_IP+x}" ]; then
    a2disconf -q remoteip
fi

# entrypoint.sh: install and upgrade only for the web server's command (or NEXTCLOUD_UPDATE=1).
if [ "${1#apache}" != "$1" ] || [ "${NEXTCLOUD_UPDATE:-0}" -eq 1 ]; then
    installed_version=0.0.0.0
    if [ -f "$html/version.php" ]; then
        installed_version="$(php -r 'require "/var/www/html/version.php"; echo implode(".", $OC_Version);')"
    fi
    image_version="$(php -r 'require "/usr/src/nextcloud/version.php"; echo implode(".", $OC_Version);')"

    # entrypoint.sh: data from a newer version is refused, downgrades are not supported.
    if version_greater "$installed_version" "$image_version"; then
        echo "Can't start Nextcloud because the version of the data ($installed_version) is higher than the docker image version ($image_version) and downgrading is not supported."
        exit 1
    fi

    if version_greater "$image_version" "$installed_version"; then
        echo "Initializing nextcloud $image_version ..."
        if [ "$installed_version" != 0.0.0.0 ]; then
            # entrypoint.sh: only one major version at a time.
            if [ "${image_version%%.*}" -gt "$((${installed_version%%.*} + 1))" ]; then
                echo "Can't start Nextcloud because upgrading from $installed_version to $image_version is not supported."
                echo "It is only possible to upgrade one major version at a time."
                exit 1
            fi
            echo "Upgrading nextcloud from $installed_version ..."
        fi
        # entrypoint.sh: the code is synced over as www-data's, except upgrade.exclude; config, data,
        # custom_apps and themes only while they are missing or empty (a bind-mounted file makes
        # config non-empty, so the image's config files never arrive: nextcloud/docker#957).
        rsync -rlDog --chown www-data:www-data --delete --exclude-from=/upgrade.exclude "$src/" "$html/"
        for dir in config data custom_apps themes; do
            if [ ! -d "$html/$dir" ] || directory_empty "$html/$dir"; then
                rsync -rlDog --chown www-data:www-data --include "/$dir/" --exclude '/*' "$src/" "$html/"
            fi
        done
        rsync -rlDog --chown www-data:www-data --include /version.php --exclude '/*' "$src/" "$html/"

        if [ "$installed_version" = 0.0.0.0 ]; then
            echo "New nextcloud instance"
            # entrypoint.sh: a fully automated install needs both admin variables and one complete
            # database group (PostgreSQL: POSTGRES_DB, _USER, _PASSWORD, _HOST); else the web wizard.
            if [ -n "${NEXTCLOUD_ADMIN_USER+x}" ] && [ -n "${NEXTCLOUD_ADMIN_PASSWORD+x}" ] \
                && [ -n "${POSTGRES_DB+x}" ] && [ -n "${POSTGRES_USER+x}" ] \
                && [ -n "${POSTGRES_PASSWORD+x}" ] && [ -n "${POSTGRES_HOST+x}" ]; then
                echo "Installing with PostgreSQL database"
                run_path pre-installation
                # entrypoint.sh retries the install (the database may still be starting) 10 times.
                try=0
                until as_www_data 'php /var/www/html/occ maintenance:install -n --admin-user "$NEXTCLOUD_ADMIN_USER" --admin-pass "$NEXTCLOUD_ADMIN_PASSWORD" --database pgsql --database-name "$POSTGRES_DB" --database-user "$POSTGRES_USER" --database-pass "$POSTGRES_PASSWORD" --database-host "$POSTGRES_HOST"'; do
                    try=$((try + 1))
                    if [ "$try" -gt 10 ]; then
                        echo "Installing of nextcloud failed!"
                        exit 1
                    fi
                    echo "Retrying install..."
                    sleep 3
                done
                # entrypoint.sh: NEXTCLOUD_TRUSTED_DOMAINS, space-separated, from index 1 on.
                if [ -n "${NEXTCLOUD_TRUSTED_DOMAINS+x}" ]; then
                    index=1
                    for domain in $NEXTCLOUD_TRUSTED_DOMAINS; do
                        as_www_data "php /var/www/html/occ config:system:set trusted_domains $index --value=\"$domain\""
                        index=$((index + 1))
                    done
                fi
                run_path post-installation
            else
                echo "Next step: Access your instance to finish the web-based installation!"
            fi
        else
            run_path pre-upgrade
            as_www_data 'php /var/www/html/occ upgrade'
            run_path post-upgrade
        fi
        echo "Initializing finished"
    fi
    run_path before-starting
fi

exec "$@"
