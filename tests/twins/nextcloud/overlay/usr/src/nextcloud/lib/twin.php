<?php
// What the stand-in's entry points (occ, status.php, remote.php, cron.php) share: the configuration,
// the database, the version. Each rule names the upstream source that states it.
declare(strict_types=1);

const NC_ROOT = '/var/www/html';
const NC_CONFIG_DIR = NC_ROOT . '/config';

function nc_own_config(): array {
    $CONFIG = [];
    if (is_file(NC_CONFIG_DIR . '/config.php')) {
        include NC_CONFIG_DIR . '/config.php';
    }
    return $CONFIG;
}

// Nextcloud reads config.php and then every *.config.php beside it, later keys winning; the image's
// config files inject environment variables that way (nextcloud/docker README.md, "Viewing the
// Nextcloud configuration (config.php)").
function nc_config(): array {
    $merged = nc_own_config();
    foreach (glob(NC_CONFIG_DIR . '/*.config.php') ?: [] as $file) {
        $CONFIG = [];
        include $file;
        $merged = array_merge($merged, $CONFIG);
    }
    return $merged;
}

// Nextcloud refuses to work with a config folder it cannot write ("Cannot write into "config"
// directory!", the error of nextcloud/docker#957).
function nc_write_config(array $config): void {
    if (!is_writable(NC_CONFIG_DIR) || (is_file(NC_CONFIG_DIR . '/config.php') && !is_writable(NC_CONFIG_DIR . '/config.php'))) {
        fwrite(STDERR, "Cannot write into \"config\" directory!\n");
        exit(1);
    }
    $text = "<?php\n\$CONFIG = " . var_export($config, true) . ";\n";
    file_put_contents(NC_CONFIG_DIR . '/config.php', $text, LOCK_EX);
    chmod(NC_CONFIG_DIR . '/config.php', 0640);
}

function nc_code_version(): string {
    require NC_ROOT . '/version.php';
    return implode('.', $OC_Version);
}

function nc_version_string(): string {
    require NC_ROOT . '/version.php';
    return $OC_VersionString;
}

// status.php's needsDbUpgrade: the code is newer than the version the installation was set up with.
function nc_needs_upgrade(array $config): bool {
    return !empty($config['installed']) && version_compare(nc_code_version(), (string)($config['version'] ?? '0'), '>');
}

function nc_db(array $config): PDO {
    $dsn = sprintf('pgsql:host=%s;dbname=%s', $config['dbhost'], $config['dbname']);
    return new PDO($dsn, (string)$config['dbuser'], (string)$config['dbpassword'], [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
}

// lib/private/AppFramework/Http/Request.php (getRemoteAddress): only a trusted proxy may name the
// client; the forwarded addresses are read from the right, the first one that is not itself a
// trusted proxy is the client.
function nc_remote_address(array $config): string {
    $remote = $_SERVER['REMOTE_ADDR'] ?? '';
    $trusted = (array)($config['trusted_proxies'] ?? []);
    if (!nc_ip_in($remote, $trusted)) {
        return $remote;
    }
    $forwarded = array_map('trim', explode(',', $_SERVER['HTTP_X_FORWARDED_FOR'] ?? ''));
    foreach (array_reverse($forwarded) as $address) {
        if ($address !== '' && filter_var($address, FILTER_VALIDATE_IP) && !nc_ip_in($address, $trusted)) {
            return $address;
        }
    }
    return $remote;
}

function nc_ip_in(string $ip, array $ranges): bool {
    $address = ip2long($ip);
    if ($address === false) {
        return false;
    }
    foreach ($ranges as $range) {
        [$net, $bits] = array_pad(explode('/', (string)$range, 2), 2, '32');
        $base = ip2long($net);
        $mask = (int)$bits === 0 ? 0 : (~0 << (32 - (int)$bits)) & 0xFFFFFFFF;
        if ($base !== false && ($address & $mask) === ($base & $mask)) {
            return true;
        }
    }
    return false;
}

// lib/private/Log: one JSON line per event in the data folder's nextcloud.log.
function nc_log(array $config, string $message, string $remote): void {
    $line = json_encode(['time' => gmdate('c'), 'remoteAddr' => $remote, 'message' => $message]) . "\n";
    file_put_contents(($config['datadirectory'] ?? NC_ROOT . '/data') . '/nextcloud.log', $line, FILE_APPEND | LOCK_EX);
}
