<?php
// Groups, accounts and the groupfolders app's Team folders, as the stand-in's occ and WebDAV know
// them. Sources (read 2026-12-06): nextcloud/server core/Command/Group/{Add,AddUser,Delete,ListCommand}.php,
// core/Command/User/{Add,Delete,Info}.php, core/Command/App/Install.php, lib/private/Setup.php (the
// group "admin"), lib/private/SubAdmin.php (table group_admin); nextcloud/groupfolders at a4bec822
// lib/Command/{Create,Group,Quota,Delete,ListCommand,FolderCommand}.php and its migrations (tables
// group_folders, group_folders_groups; a folder's files under the data folder's __groupfolders/<id>).
declare(strict_types=1);

const NC_GROUPFOLDERS_VERSION = '20.0.0';
// lib/public/Constants.php: read 1, update 2, create 4, delete 8, share 16.
const NC_PERMISSIONS = ['read' => 1, 'write' => 2 | 4, 'share' => 16, 'delete' => 8];
// lib/public/Files/FileInfo.php SPACE_UNLIMITED.
const NC_UNLIMITED = -3;

function nc_account_tables(PDO $db): void {
    $db->exec('CREATE TABLE IF NOT EXISTS oc_groups (gid VARCHAR(64) PRIMARY KEY, displayname VARCHAR(255) NOT NULL)');
    $db->exec('CREATE TABLE IF NOT EXISTS oc_group_user (gid VARCHAR(64) NOT NULL, uid VARCHAR(64) NOT NULL, PRIMARY KEY (gid, uid))');
    $db->exec('CREATE TABLE IF NOT EXISTS oc_group_admin (gid VARCHAR(64) NOT NULL, uid VARCHAR(64) NOT NULL, PRIMARY KEY (gid, uid))');
    $db->exec('CREATE TABLE IF NOT EXISTS oc_group_folders (folder_id SERIAL PRIMARY KEY, mount_point VARCHAR(4000) NOT NULL UNIQUE, quota BIGINT NOT NULL DEFAULT -3, acl INTEGER NOT NULL DEFAULT 0)');
    $db->exec('CREATE TABLE IF NOT EXISTS oc_group_folders_groups (folder_id INTEGER NOT NULL REFERENCES oc_group_folders ON DELETE CASCADE, group_id VARCHAR(64) NOT NULL, permissions INTEGER NOT NULL, PRIMARY KEY (folder_id, group_id))');
}

function nc_one(PDO $db, string $sql, array $values): mixed {
    $query = $db->prepare($sql);
    $query->execute($values);
    return $query->fetchColumn();
}

function nc_app_enabled(PDO $db, string $app): bool {
    return nc_one($db, "SELECT configvalue FROM oc_appconfig WHERE appid = ? AND configkey = 'enabled'", [$app]) === 'yes';
}

// The files of Team folder $id: <datadirectory>/__groupfolders/<id>.
function nc_groupfolder_dir(array $config, int $id): string {
    return ($config['datadirectory'] ?? NC_ROOT . '/data') . "/__groupfolders/$id";
}

// The Team folder mounted as $mount for $uid, through a group the account is in: [id, permissions,
// quota] or null (MountProvider: a folder is mounted only for members of its groups).
function nc_groupfolder_for(PDO $db, string $uid, string $mount): ?array {
    nc_account_tables($db);
    $query = $db->prepare('SELECT f.folder_id, g.permissions, f.quota FROM oc_group_folders f JOIN oc_group_folders_groups g ON g.folder_id = f.folder_id JOIN oc_group_user u ON u.gid = g.group_id WHERE u.uid = ? AND f.mount_point = ?');
    $query->execute([$uid, $mount]);
    $row = $query->fetch(PDO::FETCH_NUM);
    return $row === false ? null : [(int)$row[0], (int)$row[1], (int)$row[2]];
}

// OCP\Util::computerFileSize: a number of bytes, or a number with a unit (k, m, g, t; 1024 each).
function nc_file_size(string $text): ?int {
    if (!preg_match('/^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$/', strtolower(trim($text)), $m)) {
        return null;
    }
    return (int)((float)$m[1] * 1024 ** strpos(' kmgt', $m[2] === '' ? ' ' : $m[2]));
}

function nc_json_or_table(array $options, array $data): void {
    echo (str_starts_with((string)($options['output'] ?? ''), 'json') ? json_encode($data) : print_r($data, true)) . "\n";
}

function nc_accounts_command(string $command, array $args, array $options, array $config): bool {
    $db = nc_db($config);
    nc_account_tables($db);
    // occ lists an app's commands only while the app is enabled.
    if (str_starts_with($command, 'groupfolders:') && !nc_app_enabled($db, 'groupfolders')) {
        return false;
    }
    $arg = fn (int $i): string => (string)($args[$i] ?? fail("$command: a required argument is missing"));
    switch ($command) {
        case 'app:install':
            // App/Install.php: an app that is there already is refused; then it is downloaded from the
            // app store and enabled. The stand-in knows only groupfolders and has no app store.
            $app = $arg(0);
            if ($app !== 'groupfolders') {
                fail("Error: Could not download app $app");
            }
            if (nc_one($db, "SELECT configvalue FROM oc_appconfig WHERE appid = ? AND configkey = 'installed_version'", [$app]) !== false) {
                echo "$app already installed\n";
                exit(1);
            }
            set_app_value($config, $app, 'installed_version', NC_GROUPFOLDERS_VERSION);
            set_app_value($config, $app, 'enabled', 'yes');
            echo "$app " . NC_GROUPFOLDERS_VERSION . " installed\n$app " . NC_GROUPFOLDERS_VERSION . " enabled\n";
            return true;
        case 'app:enable':
            $app = $arg(0);
            if (nc_one($db, "SELECT configvalue FROM oc_appconfig WHERE appid = ? AND configkey = 'installed_version'", [$app]) === false) {
                fail("Could not find app $app");
            }
            set_app_value($config, $app, 'enabled', 'yes');
            echo "$app " . NC_GROUPFOLDERS_VERSION . " enabled\n";
            return true;
        case 'group:list':
            $groups = [];
            foreach ($db->query('SELECT gid FROM oc_groups ORDER BY gid')->fetchAll(PDO::FETCH_COLUMN) as $gid) {
                $members = $db->prepare('SELECT uid FROM oc_group_user WHERE gid = ? ORDER BY uid');
                $members->execute([$gid]);
                $groups[$gid] = $members->fetchAll(PDO::FETCH_COLUMN);
            }
            nc_json_or_table($options, $groups);
            return true;
        case 'group:add':
            $gid = $arg(0);
            if (nc_one($db, 'SELECT 1 FROM oc_groups WHERE gid = ?', [$gid])) {
                fail("Group \"$gid\" already exists.");
            }
            $db->prepare('INSERT INTO oc_groups (gid, displayname) VALUES (?, ?)')->execute([$gid, trim((string)($options['display-name'] ?? '')) ?: $gid]);
            echo "Created group \"$gid\"\n";
            return true;
        case 'group:adduser':
            [$gid, $uid] = [$arg(0), $arg(1)];
            if (!nc_one($db, 'SELECT 1 FROM oc_groups WHERE gid = ?', [$gid])) {
                fail('group not found');
            }
            if (!nc_one($db, 'SELECT 1 FROM oc_users WHERE uid = ?', [$uid])) {
                fail('user not found');
            }
            $db->prepare('INSERT INTO oc_group_user (gid, uid) VALUES (?, ?) ON CONFLICT DO NOTHING')->execute([$gid, $uid]);
            return true;
        case 'group:delete':
            $gid = $arg(0);
            if (!nc_one($db, 'SELECT 1 FROM oc_groups WHERE gid = ?', [$gid])) {
                fail("Group \"$gid\" does not exist.");
            }
            if ($gid === 'admin') {
                fail('Group "admin" could not be deleted.');
            }
            foreach (['oc_group_user', 'oc_group_admin', 'oc_groups'] as $table) {
                $db->prepare("DELETE FROM $table WHERE gid = ?")->execute([$gid]);
            }
            // groupfolders listens to a group's deletion and takes it off every folder.
            $db->prepare('DELETE FROM oc_group_folders_groups WHERE group_id = ?')->execute([$gid]);
            echo "Group \"$gid\" was removed\n";
            return true;
        case 'user:info':
            $uid = $arg(0);
            $name = nc_one($db, 'SELECT displayname FROM oc_users WHERE uid = ?', [$uid]);
            if ($name === false) {
                fail('user not found');
            }
            $groups = $db->prepare('SELECT gid FROM oc_group_user WHERE uid = ? ORDER BY gid');
            $groups->execute([$uid]);
            nc_json_or_table($options, ['user_id' => $uid, 'display_name' => $name, 'groups' => $groups->fetchAll(PDO::FETCH_COLUMN)]);
            return true;
        case 'user:add':
            $uid = $arg(0);
            if (!preg_match('/^[a-zA-Z0-9 _.@\-\']+$/', $uid)) {
                fail('Only the following characters are allowed in a username: "a-z", "A-Z", "0-9", spaces and "_.@-\'"');
            }
            if (nc_one($db, 'SELECT 1 FROM oc_users WHERE uid = ?', [$uid])) {
                fail("The user \"$uid\" already exists.");
            }
            if (empty($options['password-from-env'])) {
                fail('Interactive input or --password-from-env is needed for entering a password!');
            }
            $password = getenv('OC_PASS');
            if (!$password) {
                fail('--password-from-env given, but OC_PASS is empty!');
            }
            $display = (string)($options['display-name'] ?? $uid);
            $db->prepare('INSERT INTO oc_users (uid, displayname, password) VALUES (?, ?, ?)')->execute([$uid, $display, password_hash($password, PASSWORD_DEFAULT)]);
            echo "The user \"$uid\" was created successfully\n";
            if (isset($options['group'])) {
                $gid = (string)$options['group'];
                if (!nc_one($db, 'SELECT 1 FROM oc_groups WHERE gid = ?', [$gid])) {
                    $db->prepare('INSERT INTO oc_groups (gid, displayname) VALUES (?, ?)')->execute([$gid, $gid]);
                    echo "Created group \"$gid\"\n";
                }
                $db->prepare('INSERT INTO oc_group_user (gid, uid) VALUES (?, ?)')->execute([$gid, $uid]);
                echo "User \"$uid\" added to group \"$gid\"\n";
            }
            return true;
        case 'user:delete':
            $uid = $arg(0);
            if (!nc_one($db, 'SELECT 1 FROM oc_users WHERE uid = ?', [$uid])) {
                fail('User does not exist');
            }
            foreach (['oc_group_user', 'oc_group_admin', 'oc_users'] as $table) {
                $db->prepare("DELETE FROM $table WHERE uid = ?")->execute([$uid]);
            }
            echo "User \"$uid\" was deleted\n";
            return true;
        case 'groupfolders:create':
            $mount = trim($arg(0), '/');
            if ($mount === '') {
                fail('Folder name cannot be empty');
            }
            if (nc_one($db, 'SELECT 1 FROM oc_group_folders WHERE mount_point = ?', [$mount])) {
                fail("A Folder with the name $mount already exists");
            }
            $id = (int)nc_one($db, 'INSERT INTO oc_group_folders (mount_point) VALUES (?) RETURNING folder_id', [$mount]);
            echo "$id\n";
            return true;
        case 'groupfolders:list':
            $folders = [];
            foreach ($db->query('SELECT folder_id, mount_point, quota, acl FROM oc_group_folders ORDER BY folder_id')->fetchAll(PDO::FETCH_NUM) as [$id, $mount, $quota, $acl]) {
                $groups = $db->prepare('SELECT group_id, permissions FROM oc_group_folders_groups WHERE folder_id = ? ORDER BY group_id');
                $groups->execute([$id]);
                $access = array_map('intval', $groups->fetchAll(PDO::FETCH_KEY_PAIR));
                $size = array_sum(array_map('filesize', glob(nc_groupfolder_dir($config, (int)$id) . '/*') ?: []));
                $folders[] = ['id' => (int)$id, 'quota' => (int)$quota, 'acl' => (bool)$acl, 'groups' => $access, 'size' => $size, 'groups_list' => $access, 'mountPoint' => $mount];
            }
            echo str_starts_with((string)($options['output'] ?? ''), 'json') ? json_encode($folders) . "\n" : ($folders ? print_r($folders, true) : "No folders configured\n");
            return true;
        case 'groupfolders:group':
        case 'groupfolders:quota':
        case 'groupfolders:delete':
            // FolderCommand::getFolder: the id must be an integer of an existing folder.
            $given = $arg(0);
            if ((string)(int)$given !== $given) {
                fail("Folder id argument is not an integer. Got $given");
            }
            $id = (int)$given;
            if (!nc_one($db, 'SELECT 1 FROM oc_group_folders WHERE folder_id = ?', [$id])) {
                fail("Folder not found: $id");
            }
            if ($command === 'groupfolders:delete') {
                if (empty($options['force'])) {
                    fail('the stand-in asks no questions: give -f');
                }
                $db->prepare('DELETE FROM oc_group_folders WHERE folder_id = ?')->execute([$id]);
                exec('rm -rf ' . escapeshellarg(nc_groupfolder_dir($config, $id)));
                return true;
            }
            if ($command === 'groupfolders:quota') {
                $text = strtolower($arg(1));
                $quota = $text === 'unlimited' ? NC_UNLIMITED : nc_file_size($text);
                if (!$quota) {
                    fail("Unable to parse quota input: $text");
                }
                $db->prepare('UPDATE oc_group_folders SET quota = ? WHERE folder_id = ?')->execute([$quota, $id]);
                return true;
            }
            $gid = $arg(1);
            if (!empty($options['delete'])) {
                $db->prepare('DELETE FROM oc_group_folders_groups WHERE folder_id = ? AND group_id = ?')->execute([$id, $gid]);
                return true;
            }
            if (!nc_one($db, 'SELECT 1 FROM oc_groups WHERE gid = ?', [$gid])) {
                fail("group/team not found: $gid");
            }
            // Group.php getNewPermissions: read always, each named permission added; an unknown one fails.
            $permissions = 1;
            foreach (array_slice($args, 2) as $name) {
                $permissions |= NC_PERMISSIONS[$name] ?? fail('Unable to parse permissions input: ' . implode(' ', array_slice($args, 2)));
            }
            $db->prepare('INSERT INTO oc_group_folders_groups (folder_id, group_id, permissions) VALUES (?, ?, ?) ON CONFLICT (folder_id, group_id) DO UPDATE SET permissions = EXCLUDED.permissions')->execute([$id, $gid, $permissions]);
            return true;
    }
    return false;
}
