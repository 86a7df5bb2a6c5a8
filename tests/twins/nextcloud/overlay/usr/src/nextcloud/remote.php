<?php
// The WebDAV endpoint clients use (remote.php/dav/files/<user>/...), reduced to what proves an account
// works: PROPFIND of the own folder, PUT and GET of one file, also in a Team folder the account's
// groups reach (apps/groupfolders: mounted at its mount point in each member's files, its quota kept). The rules around it are Nextcloud
// server's: maintenance answers 503 (lib/base.php), an untrusted host 400 (lib/base.php,
// trusted_domains), a wrong password 401 (apps/dav, basic auth against the account's hash).
declare(strict_types=1);
require __DIR__ . '/lib/twin.php';
require __DIR__ . '/lib/accounts.php';

function answer(int $status, string $body = '', string $type = 'text/plain'): never {
    http_response_code($status);
    header('Content-Type: ' . $type);
    echo $body;
    exit;
}

$config = nc_config();
if (empty($config['installed'])) {
    answer(503, "not installed\n");
}
if (!empty($config['maintenance']) || nc_needs_upgrade($config)) {
    answer(503, "maintenance\n");
}
$remote = nc_remote_address($config);
// The host the client asked for: X-Forwarded-Host only when a trusted proxy sends it.
$host = $_SERVER['HTTP_HOST'] ?? '';
if ($remote !== ($_SERVER['REMOTE_ADDR'] ?? '') && !empty($_SERVER['HTTP_X_FORWARDED_HOST'])) {
    $host = trim(explode(',', $_SERVER['HTTP_X_FORWARDED_HOST'])[0]);
}
$host = preg_replace('/:\d+$/', '', $host);
if (!in_array($host, (array)($config['trusted_domains'] ?? []), true)) {
    answer(400, "Access through untrusted domain\n");
}

$user = $_SERVER['PHP_AUTH_USER'] ?? '';
$password = $_SERVER['PHP_AUTH_PW'] ?? '';
$db = nc_db($config);
$row = $db->prepare('SELECT password FROM oc_users WHERE uid = ?');
$row->execute([$user]);
$hash = $row->fetchColumn();
if ($hash === false || !password_verify($password, (string)$hash)) {
    nc_log($config, "Login failed: $user", $remote);
    header('WWW-Authenticate: Basic realm="Nextcloud", charset="UTF-8"');
    answer(401, "unauthorized\n");
}
nc_log($config, "Login successful: $user", $remote);
// apps/dav: every path below the endpoint asks for an account first, so an unknown path is a 404
// only to who signed in. A Team folder (groupfolders) appears as a folder of each member's files.
$path = $_SERVER['PATH_INFO'] ?? '';
if (!preg_match('#^/dav/files/([A-Za-z0-9._@-]+)/(?:([A-Za-z0-9._-]+)/)?([A-Za-z0-9._-]*)$#', $path, $m) || in_array($m[3], ['.', '..'], true) || in_array($m[2], ['.', '..'], true)) {
    answer(404, "not found\n");
}
[$_, $owner, $mount, $name] = $m;
if ($owner !== $user) {
    answer(403, "forbidden\n");
}

$folder = ($config['datadirectory'] ?? NC_ROOT . '/data') . "/$user/files";
$key = "files/$user/$name";
$quota = NC_UNLIMITED;
if ($mount !== '') {
    $found = nc_groupfolder_for($db, $user, $mount);
    if ($found === null) {
        answer(404, "not found\n");
    }
    [$id, $permissions, $quota] = $found;
    if ($_SERVER['REQUEST_METHOD'] === 'PUT' && ($permissions & 4) === 0) {
        answer(403, "forbidden\n");
    }
    $folder = nc_groupfolder_dir($config, $id);
    $key = "__groupfolders/$id/$name";
}
switch ($_SERVER['REQUEST_METHOD']) {
    case 'PROPFIND':
        $list = $db->prepare('SELECT path, size FROM oc_filecache WHERE path LIKE ? ORDER BY path');
        $list->execute([$mount !== '' ? "$key%" : "files/$user/%"]);
        $items = '';
        foreach ($list->fetchAll(PDO::FETCH_ASSOC) as $file) {
            $href = htmlspecialchars('/remote.php/dav/' . $file['path']);
            $items .= "<d:response><d:href>$href</d:href><d:propstat><d:prop><d:getcontentlength>{$file['size']}</d:getcontentlength></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>";
        }
        answer(207, "<?xml version=\"1.0\"?>\n<d:multistatus xmlns:d=\"DAV:\">$items</d:multistatus>\n", 'application/xml; charset=utf-8');
    case 'PUT':
        if ($name === '') {
            answer(405, "a file name is needed\n");
        }
        if (!is_dir($folder)) {
            mkdir($folder, 0750, true);
        }
        $body = file_get_contents('php://input');
        // groupfolders' quota wraps the folder's storage: a write past it is refused, 507 over WebDAV.
        $used = array_sum(array_map('filesize', array_filter(glob("$folder/*") ?: [], fn ($f) => basename($f) !== $name)));
        if ($quota >= 0 && $used + strlen($body) > $quota) {
            answer(507, "Insufficient Storage\n");
        }
        file_put_contents("$folder/$name", $body);
        $db->prepare('DELETE FROM oc_filecache WHERE path = ?')->execute([$key]);
        $db->prepare('INSERT INTO oc_filecache (path, size, etag) VALUES (?, ?, ?)')->execute([$key, strlen($body), md5($body)]);
        answer(201);
    case 'GET':
        // A file exists when both the file cache (database) and the data folder (volume) have it.
        $known = $db->prepare('SELECT etag FROM oc_filecache WHERE path = ?');
        $known->execute([$key]);
        if ($known->fetchColumn() === false || !is_file("$folder/$name")) {
            answer(404, "not found\n");
        }
        answer(200, (string)file_get_contents("$folder/$name"), 'application/octet-stream');
    default:
        answer(405, "method not allowed\n");
}
