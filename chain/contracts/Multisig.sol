// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/**
 * @title Multisig — M-of-N owners for the critical operations (docs/settlement.md, "Multisig").
 * @notice `submit` records a call (and confirms it for the submitter), owners `confirm`/`revoke`, and any
 * owner `execute`s it once the confirmations of current owners reach the threshold. Owners and threshold
 * change only through the wallet calling itself. At most 20 owners.
 */
contract Multisig {
    uint256 public constant MAX_OWNERS = 20;

    struct Transaction {
        address to;
        bool executed;
        uint256 value;
        bytes data;
    }

    address[] private _owners;
    mapping(address => bool) public isOwner;
    uint256 public threshold;
    Transaction[] private _transactions;
    mapping(uint256 => mapping(address => bool)) public confirmed;

    error NotOwner(address account);
    error OnlySelf();
    error InvalidOwners();
    error InvalidThreshold(uint256 threshold, uint256 owners);
    error UnknownTransaction(uint256 id);
    error AlreadyExecuted(uint256 id);
    error AlreadyConfirmed(uint256 id, address owner);
    error NotConfirmed(uint256 id, address owner);
    error NotEnoughConfirmations(uint256 id, uint256 confirmations, uint256 threshold);
    error ExecutionFailed(uint256 id, bytes reason);

    event Submitted(uint256 indexed id, address indexed owner, address indexed to, uint256 value, bytes data);
    event Confirmed(uint256 indexed id, address indexed owner);
    event Revoked(uint256 indexed id, address indexed owner);
    event Executed(uint256 indexed id);
    event OwnerAdded(address indexed owner);
    event OwnerRemoved(address indexed owner);
    event ThresholdChanged(uint256 threshold);
    event Received(address indexed from, uint256 amount);

    modifier onlyOwner() {
        if (!isOwner[msg.sender]) revert NotOwner(msg.sender);
        _;
    }

    modifier onlySelf() {
        if (msg.sender != address(this)) revert OnlySelf();
        _;
    }

    constructor(address[] memory owners_, uint256 threshold_) {
        if (owners_.length == 0 || owners_.length > MAX_OWNERS) revert InvalidOwners();
        for (uint256 i = 0; i < owners_.length; ++i) {
            address o = owners_[i];
            if (o == address(0) || isOwner[o]) revert InvalidOwners();
            isOwner[o] = true;
            _owners.push(o);
        }
        _setThreshold(threshold_);
    }

    receive() external payable {
        emit Received(msg.sender, msg.value);
    }

    function owners() external view returns (address[] memory) {
        return _owners;
    }

    function transactionCount() external view returns (uint256) {
        return _transactions.length;
    }

    function transaction(uint256 id) external view returns (address to, uint256 value, bytes memory data, bool executed) {
        Transaction storage t = _get(id);
        return (t.to, t.value, t.data, t.executed);
    }

    /// Confirmations of the current owners.
    function confirmations(uint256 id) public view returns (uint256 count) {
        _get(id);
        for (uint256 i = 0; i < _owners.length; ++i) {
            if (confirmed[id][_owners[i]]) ++count;
        }
    }

    function submit(address to, uint256 value, bytes calldata data) external onlyOwner returns (uint256 id) {
        id = _transactions.length;
        _transactions.push(Transaction(to, false, value, data));
        emit Submitted(id, msg.sender, to, value, data);
        confirmed[id][msg.sender] = true;
        emit Confirmed(id, msg.sender);
    }

    function confirm(uint256 id) external onlyOwner {
        Transaction storage t = _get(id);
        if (t.executed) revert AlreadyExecuted(id);
        if (confirmed[id][msg.sender]) revert AlreadyConfirmed(id, msg.sender);
        confirmed[id][msg.sender] = true;
        emit Confirmed(id, msg.sender);
    }

    function revoke(uint256 id) external onlyOwner {
        Transaction storage t = _get(id);
        if (t.executed) revert AlreadyExecuted(id);
        if (!confirmed[id][msg.sender]) revert NotConfirmed(id, msg.sender);
        confirmed[id][msg.sender] = false;
        emit Revoked(id, msg.sender);
    }

    function execute(uint256 id) external onlyOwner returns (bytes memory result) {
        Transaction storage t = _get(id);
        if (t.executed) revert AlreadyExecuted(id);
        uint256 c = confirmations(id);
        if (c < threshold) revert NotEnoughConfirmations(id, c, threshold);
        t.executed = true;
        bool ok;
        (ok, result) = t.to.call{value: t.value}(t.data);
        if (!ok) revert ExecutionFailed(id, result);
        emit Executed(id);
    }

    function addOwner(address owner) external onlySelf {
        if (owner == address(0) || isOwner[owner] || _owners.length >= MAX_OWNERS) revert InvalidOwners();
        isOwner[owner] = true;
        _owners.push(owner);
        emit OwnerAdded(owner);
    }

    function removeOwner(address owner) external onlySelf {
        if (!isOwner[owner]) revert NotOwner(owner);
        if (_owners.length - 1 < threshold) revert InvalidThreshold(threshold, _owners.length - 1);
        isOwner[owner] = false;
        for (uint256 i = 0; i < _owners.length; ++i) {
            if (_owners[i] == owner) {
                _owners[i] = _owners[_owners.length - 1];
                _owners.pop();
                break;
            }
        }
        emit OwnerRemoved(owner);
    }

    function changeThreshold(uint256 threshold_) external onlySelf {
        _setThreshold(threshold_);
    }

    function _setThreshold(uint256 threshold_) private {
        if (threshold_ == 0 || threshold_ > _owners.length) revert InvalidThreshold(threshold_, _owners.length);
        threshold = threshold_;
        emit ThresholdChanged(threshold_);
    }

    function _get(uint256 id) private view returns (Transaction storage) {
        if (id >= _transactions.length) revert UnknownTransaction(id);
        return _transactions[id];
    }
}
