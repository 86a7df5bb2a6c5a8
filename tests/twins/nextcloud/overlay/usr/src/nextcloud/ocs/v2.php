<?php
// The provisioning API's one route the template's space script calls:
//   POST /ocs/v2.php/cloud/users/<userid>/subadmins   groupid=<group>
// makes an account the admin of a group (a "subadmin"), who may then add accounts to that group.
// Rules from nextcloud/server apps/provisioning_api/lib/Controller/UsersController.php
// (addSubAdmin: 101 no such group, 102 the group "admin", 103 unknown account; an account that is
// one already is answered as a success), appinfo/routes.php, lib/private/SubAdmin.php (table
// group_admin), core/Middleware: the header OCS-APIRequest is required, only admins may do this.
declare(strict_types=1);
require dirname(__DIR__) . '/lib/twin.php';
require dirname(__DIR__) . '/lib/accounts.php';

function ocs(int $http, int $code, string $message = ''): never {
    http_response_code($http);
    header('Content-Type: application/json; charset=utf-8');
    echo json_encode(['ocs' => ['meta' => ['status' => $code === 200 ? 'ok' : 'failure', 'statuscode' => $code, 'message' => $message], 'data' => []]]);
    exit;
}

$config = nc_config();
if (empty($config['installed']) || !empty($config['maintenance'])) {
    ocs(503, 503, 'maintenance');
}
if (($_SERVER['HTTP_OCS_APIREQUEST'] ?? '') !== 'true') {
    ocs(412, 412, 'CSRF check failed');
}
$db = nc_db($config);
nc_account_tables($db);
$user = $_SERVER['PHP_AUTH_USER'] ?? '';
$hash = nc_one($db, 'SELECT password FROM oc_users WHERE uid = ?', [$user]);
if ($hash === false || !password_verify($_SERVER['PHP_AUTH_PW'] ?? '', (string)$hash)) {
    ocs(401, 997, 'Current user is not logged in');
}
if (!nc_one($db, "SELECT 1 FROM oc_group_user WHERE gid = 'admin' AND uid = ?", [$user])) {
    ocs(403, 403, 'Logged in account must be an admin');
}
$path = $_SERVER['PATH_INFO'] ?? '';
if ($_SERVER['REQUEST_METHOD'] !== 'POST' || !preg_match('#^/cloud/users/([A-Za-z0-9 _.@\-\']+)/subadmins$#', $path, $m)) {
    ocs(404, 998, 'Invalid query');
}
$uid = $m[1];
$gid = (string)($_POST['groupid'] ?? '');
if (!nc_one($db, 'SELECT 1 FROM oc_groups WHERE gid = ?', [$gid])) {
    ocs(200, 101, 'Group does not exist');
}
if ($gid === 'admin') {
    ocs(200, 102, 'Cannot create subadmins for admin group');
}
if (!nc_one($db, 'SELECT 1 FROM oc_users WHERE uid = ?', [$uid])) {
    ocs(200, 103, 'User does not exist');
}
$db->prepare('INSERT INTO oc_group_admin (gid, uid) VALUES (?, ?) ON CONFLICT DO NOTHING')->execute([$gid, $uid]);
ocs(200, 200);
